// Test support (not shipped): a real HTTP "app" that answers with its own version, plus helpers
// to talk to a router over loopback. Used by the router's *.test.ts files.
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server,
  ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { createRouter } from './router.ts';
import type { Router, RouterOptions } from './router-types.ts';

/** A running test app. */
export interface TestApp {
  version: string;
  port: number;
  server: Server;
  /** Requests received, by path. */
  hits: number;
  /** Requests whose connection closed before the app answered them. */
  aborted: number;
  /** Bytes `/big` has written so far, and whether it is waiting for 'drain' (backpressure). */
  bigSent: number;
  bigBlocked: boolean;
  /** How many of the next `/drop` requests have their connection destroyed instead of an answer. */
  dropNext: number;
  /** Headers of the last request received. */
  lastHeaders: IncomingHttpHeaders;
  /** Resolves once `n` requests to `/slow` are waiting. */
  slowWaiting(n: number): Promise<void>;
  /** Answers every waiting `/slow` request with the app's version. */
  releaseSlow(): void;
  /** Open `/sse` streams. */
  sseOpen: number;
  /** Sends `data: <text>` to every open `/sse` stream. */
  pushSse(text: string): void;
  /** Ends every open `/sse` stream cleanly (as an app does on SIGTERM). */
  endSse(): void;
  close(): Promise<void>;
}

/**
 * Starts an app on 127.0.0.1:0. Routes: `/` (version as text), `/headers` (request headers and target as
 * JSON), `/echo` (streams the body back), `/slow` (waits for `releaseSlow`), `/hang` (never
 * answers), `/drop` (destroys the connection while `dropNext` > 0), `/big?bytes=N` (streams N
 * bytes), `/hop` (sends hop-by-hop headers), `/204`, `/html` (an HTML page), `/sse` (an event
 * stream fed by `pushSse`), `/status?code=N`, `/upload` (answers the body length once it is all in). Upgrades are accepted and echo bytes.
 */
export async function startTestApp(version: string): Promise<TestApp> {
  const slow: ServerResponse[] = [];
  const sse = new Set<ServerResponse>();
  let slowListener: (() => void) | null = null;
  const app: TestApp = {
    version,
    port: 0,
    server: createServer(handle),
    hits: 0,
    aborted: 0,
    dropNext: 0,
    bigSent: 0,
    bigBlocked: false,
    lastHeaders: {},
    async slowWaiting(n) {
      while (slow.length < n) {
        await new Promise<void>((resolve) => (slowListener = resolve));
      }
    },
    releaseSlow() {
      for (const res of slow.splice(0)) res.end(`slow:${version}`);
    },
    get sseOpen() {
      return sse.size;
    },
    pushSse(text) {
      for (const res of sse) res.write(`data: ${text}\n\n`);
    },
    endSse() {
      for (const res of sse) res.end();
    },
    async close() {
      for (const res of sse) res.destroy();
      app.server.closeAllConnections();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
    },
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    app.hits++;
    app.lastHeaders = req.headers;
    res.on('close', () => {
      if (!res.writableFinished) app.aborted++;
    });
    const url = new URL(req.url ?? '/', 'http://app');
    res.setHeader('x-app-version', 'set-by-app');
    switch (url.pathname) {
      case '/':
        res.setHeader('content-type', 'text/plain');
        res.end(version);
        return;
      case '/headers':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ headers: req.headers, rawHeaders: req.rawHeaders, url: req.url }));
        return;
      case '/echo':
        res.setHeader('content-type', 'application/octet-stream');
        req.pipe(res);
        return;
      case '/slow':
        slow.push(res);
        slowListener?.();
        return;
      case '/hang':
        return;
      case '/drop':
        if (app.dropNext > 0) {
          app.dropNext--;
          req.socket.destroy();
          return;
        }
        req.resume();
        res.end(version);
        return;
      case '/big': {
        const total = Number(url.searchParams.get('bytes') ?? '0');
        const chunk = Buffer.alloc(64 * 1024, 120);
        let sent = 0;
        app.bigSent = 0;
        const pump = (): void => {
          app.bigBlocked = false;
          while (sent < total) {
            const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
            sent += piece.length;
            app.bigSent = sent;
            if (!res.write(piece)) {
              app.bigBlocked = true;
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      case '/hop':
        res.writeHead(200, {
          connection: 'keep-alive, x-hop-private, x-app-version, x-deployment-id',
          'x-hop-private': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          trailer: 'x-checksum',
          'x-end-to-end': 'kept',
        });
        res.end('hop');
        return;
      case '/html':
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(`<!doctype html><title>${version}</title>`);
        return;
      case '/sse':
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(`data: hello ${version}\n\n`);
        sse.add(res);
        res.on('close', () => sse.delete(res));
        return;
      case '/upload': {
        let length = 0;
        req.on('data', (c: Buffer) => (length += c.length));
        req.on('end', () => res.end(String(length)));
        return;
      }
      case '/status': {
        req.resume();
        res.writeHead(Number(url.searchParams.get('code') ?? '200'));
        res.end();
        return;
      }
      case '/204':
        res.writeHead(204);
        res.end();
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  }

  app.server.on('upgrade', (req, socket, head) => {
    app.hits++;
    app.lastHeaders = req.headers;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.on('error', () => {});
    socket.pipe(socket);
  });

  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A response read in full. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request through node:http (no keep-alive), with arbitrary headers; reads the whole answer. */
export function send(
  port: number,
  options: { path?: string; method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A router with one instance whose blue (1.0.0) and green (2.0.0) are test apps; blue is active. */
export interface BlueGreen {
  router: Router;
  port: number;
  blue: TestApp;
  green: TestApp;
  /** A keep-alive client pool to the router. */
  client: Pool;
  /** Releases waiting `/slow` requests, then closes the client, the router and both apps. */
  close(): Promise<void>;
}

/** The blue/green set-up most router tests start from (instance `shop` on `shop.test` unless told). */
export async function startBlueGreen(
  options: {
    router?: RouterOptions;
    instance?: string;
    host?: string;
    /** Register `d1` (blue) and `d2` (green) as deployment ids. */
    deploymentIds?: boolean;
    connections?: number;
  } = {},
): Promise<BlueGreen> {
  const name = options.instance ?? 'shop';
  const [blue, green] = await Promise.all([startTestApp('1.0.0'), startTestApp('2.0.0')]);
  const router = createRouter(options.router);
  const port = await router.listen(0, '127.0.0.1');
  router.setInstance(name, [options.host ?? 'shop.test']);
  const ids = options.deploymentIds === true;
  router.setSlot(name, {
    color: 'blue',
    version: '1.0.0',
    port: blue.port,
    ...(ids ? { deploymentId: 'd1' } : {}),
  });
  router.setSlot(name, {
    color: 'green',
    version: '2.0.0',
    port: green.port,
    ...(ids ? { deploymentId: 'd2' } : {}),
  });
  router.activate(name, 'blue');
  const client = new Pool(`http://127.0.0.1:${port}`, { connections: options.connections ?? 8 });
  return {
    router,
    port,
    blue,
    green,
    client,
    async close() {
      blue.releaseSlow();
      green.releaseSlow();
      await client.close();
      await router.close();
      await Promise.all([blue.close(), green.close()]);
    },
  };
}
