// Test support (not shipped): a minimal RFC 6455 WebSocket echo server, and helpers to open real
// WebSocket clients (Node's global WebSocket) through a router.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRouter } from './router.ts';
import type { Router, RouterOptions } from './router-types.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A running WebSocket echo app. */
export interface TestWsApp {
  version: string;
  port: number;
  server: Server;
  /** Close codes the app received (from clients, or from the router closing on their behalf). */
  closeCodes: number[];
  /** Open connections. */
  open: number;
  /** Sends a text message to every open connection (to test injection at frame boundaries). */
  broadcast(text: string): void;
  close(): Promise<void>;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.alloc(4);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  }
  return Buffer.concat([head, payload]);
}

/**
 * Starts an app on 127.0.0.1:0 that accepts WebSocket upgrades, echoes text and binary messages
 * (prefixed with its version for text), answers pings, and answers a close frame with the same
 * code before closing. Plain HTTP requests get the version as text; `/sse` is an event stream
 * that stays open.
 */
export async function startTestWsApp(version: string): Promise<TestWsApp> {
  const sockets = new Set<Duplex>();
  const server = createServer((req, res) => {
    if (req.url === '/sse') {
      // An event stream that only ends when the router ends it (drain, close).
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${version}\n\n`);
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end(version);
  });
  const app: TestWsApp = {
    version,
    port: 0,
    server,
    closeCodes: [],
    get open() {
      return sockets.size;
    },
    broadcast(text) {
      for (const s of sockets) s.write(frame(1, Buffer.from(text)));
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', (req, socket: Duplex) => {
    socket.on('error', () => {});
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (buffered.length < 2) return;
        const opcode = (buffered[0] as number) & 0x0f;
        const masked = ((buffered[1] as number) & 0x80) !== 0;
        let len = (buffered[1] as number) & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buffered.length < 4) return;
          len = buffered.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buffered.length < 10) return;
          len = Number(buffered.readBigUInt64BE(2));
          at = 10;
        }
        const mask = masked ? buffered.subarray(at, at + 4) : null;
        if (masked) at += 4;
        if (buffered.length < at + len) return;
        const payload = Buffer.from(buffered.subarray(at, at + len));
        if (mask !== null)
          for (let i = 0; i < payload.length; i++)
            payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
        buffered = buffered.subarray(at + len);
        if (opcode === 8) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          app.closeCodes.push(code);
          if (socket.writable) socket.end(frame(8, payload.subarray(0, 2)));
          return;
        }
        if (opcode === 9) socket.write(frame(10, payload));
        else if (opcode === 1) socket.write(frame(1, Buffer.from(`${version}:${payload.toString()}`)));
        else if (opcode === 2) socket.write(frame(2, payload));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  app.port = (server.address() as AddressInfo).port;
  return app;
}

/** What happened to one client WebSocket. */
export interface WsClient {
  ws: WebSocket;
  messages: string[];
  /** Resolves with the close event's code and whether the close was clean. */
  closed: Promise<{ code: number; wasClean: boolean }>;
}

/** Opens a WebSocket to `url` and resolves once it is open. */
export async function openWs(url: string): Promise<WsClient> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.addEventListener('message', (e) => messages.push(String(e.data)));
  const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) =>
    ws.addEventListener('close', (e) => resolve({ code: e.code, wasClean: e.wasClean })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)));
  });
  return { ws, messages, closed };
}

/** A router on loopback in front of two WebSocket apps, and the URL a client opens through it. */
export interface WsRouterSetup {
  router: Router;
  /** `ws://127.0.0.1:<router port>/socket`. */
  url: string;
  blue: TestWsApp;
  green: TestWsApp;
}

/**
 * Starts a router (with `options`) serving instance `chat` on host 127.0.0.1 from blue (1.0.0,
 * deployment d1, active) and green (2.0.0, d2). The caller closes the router and both apps.
 */
export async function startWsRouter(options: RouterOptions): Promise<WsRouterSetup> {
  const [blue, green] = await Promise.all([startTestWsApp('1.0.0'), startTestWsApp('2.0.0')]);
  const router = createRouter(options);
  const port = await router.listen(0, '127.0.0.1');
  router.setInstance('chat', ['127.0.0.1']);
  router.setSlot('chat', { color: 'blue', version: '1.0.0', port: blue.port, deploymentId: 'd1' });
  router.setSlot('chat', { color: 'green', version: '2.0.0', port: green.port, deploymentId: 'd2' });
  router.activate('chat', 'blue');
  return { router, url: `ws://127.0.0.1:${port}/socket`, blue, green };
}
