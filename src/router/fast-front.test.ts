// The fast path against node:http's path (ADR 0030): the same bytes, split at arbitrary
// boundaries and pipelined, sent to a router with the fast path and one without it, must reach
// the app as the same requests and come back to the client as the same answers (header case,
// order and Date aside). Requests the fast path serves, hands off, and hostile ones are mixed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { ResponseParser } from './response-parser.ts';

const HOST = 'shop.test';
const MAX_BODY = 16;

interface Seen {
  method: string;
  url: string;
  version: string;
  rawHeaders: string[];
  body: string;
}

/** An app that answers what it received: JSON with a length, chunked on `/chunked`, 204 on `/empty`. */
async function startApp(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const record = {
        method: req.method as string,
        url: req.url as string,
        version: req.httpVersion,
        rawHeaders: req.rawHeaders,
        body,
      };
      seen.push(record);
      if (req.url === '/empty') return void res.writeHead(204).end();
      // A control byte in a field value, which node:http's writeHead refuses to relay.
      if (req.url === '/bad-header')
        return void req.socket.write('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok');
      const text = JSON.stringify(record);
      if (req.url === '/chunked') {
        res.write(text.slice(0, 5));
        res.end(text.slice(5));
      } else
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
          .end(text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, seen };
}

async function startRouter(appPort: number, fastPath: boolean): Promise<{ router: Router; port: number }> {
  const router = createRouter({ fastPath, pauseTimeoutMs: 0, maxBodyBytes: MAX_BODY, drainTimeoutMs: 1000 });
  const port = await router.listen(0, '127.0.0.1');
  router.setInstance('shop', [HOST]);
  router.setSlot('shop', { color: 'blue', version: '1.0.0', port: appPort });
  router.activate('shop', 'blue');
  return { router, port };
}

/** Answers in order, normalised: status, header lines (lowercase names, sorted, no Date), body. */
function answers(bytes: Buffer): string[] {
  const out: string[] = [];
  let current = '';
  const parser = new ResponseParser({
    onHead(status, headers) {
      const lines: string[] = [];
      for (let i = 0; i < headers.length; i += 2) {
        const name = (headers[i] as string).toLowerCase();
        if (name !== 'date') lines.push(`${name}: ${headers[i + 1] as string}`);
      }
      current = `${status}\n${lines.sort().join('\n')}\n\n`;
    },
    onBody(chunk) {
      current += chunk.toString('latin1');
    },
    onEnd() {
      out.push(current);
    },
  });
  let at = 0;
  try {
    while (at < bytes.length) {
      parser.expect(false);
      const used = parser.execute(bytes.subarray(at));
      if (used === 0) break;
      at += used;
    }
    parser.finish();
  } catch (err) {
    out.push(`unparsable: ${(err as Error).message}`);
  }
  return out;
}

function untilClose(list: string[]): string[] {
  const i = list.findIndex((a) => a.includes('\nconnection: close\n'));
  return i === -1 ? list : list.slice(0, i + 1);
}

/** Writes the pieces one by one (each its own segment, mostly), reads until the router closes. */
async function exchange(port: number, pieces: Buffer[]): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'connect');
  for (const piece of pieces) {
    if (socket.destroyed) break;
    socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // A router that keeps the connection open past the last request fails the comparison, not the run.
  const timer = setTimeout(() => {
    chunks.push(Buffer.from('\n(still open)'));
    socket.destroy();
  }, 3000);
  if (!socket.destroyed) await once(socket, 'close');
  clearTimeout(timer);
  return Buffer.concat(chunks);
}

const body = fc.string({ unit: fc.constantFrom('a', 'b', 'z', '0'), maxLength: 20 });
const plain = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    path: fc.constantFrom('/', '/a?x=1', '/chunked', '/empty', '/%7Ex', '/.well-known/cutover/ready'),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
    host: fc.constantFrom(HOST, HOST, 'SHOP.test:80', 'other.test'),
    connection: fc.constantFrom(
      '',
      '',
      'Connection: keep-alive\r\n',
      'Connection: close\r\n',
      'Connection: keep-alive, x-a\r\n',
    ),
    extra: fc.constantFrom(
      '',
      'X-A: 1\r\n',
      'Cookie: a=b\r\n',
      'X-Forwarded-For: 9.9.9.9\r\n',
      'TE: chunked\r\n',
    ),
    body: fc.option(body, { nil: null }),
    chunked: fc.boolean(),
  })
  .map((r) => {
    // Whether the request ends the connection: then nothing may follow it (see the property).
    const http10 = r.version === 'HTTP/1.0';
    const closes =
      r.connection === 'Connection: close\r\n' ||
      (http10 && !r.connection.startsWith('Connection: keep-alive')) ||
      (r.body !== null && r.body.length > MAX_BODY);
    let head = `${r.method} ${r.path} ${r.version}\r\nHost: ${r.host}\r\n${r.connection}${r.extra}`;
    if (r.body === null) return { text: `${head}\r\n`, closes };
    if (r.chunked && !http10) {
      head += 'Transfer-Encoding: chunked\r\n\r\n';
      const chunks = r.body === '' ? '' : `${r.body.length.toString(16)}\r\n${r.body}\r\n`;
      return { text: `${head}${chunks}0\r\n\r\n`, closes };
    }
    return { text: `${head}Content-Length: ${r.body.length}\r\n\r\n${r.body}`, closes };
  });
const hostile = fc.constantFrom(
  `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
  `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding : chunked\r\nContent-Length: 1\r\n\r\nx`,
  `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n`,
  `GET / HTTP/1.1\nHost: ${HOST}\n\n`,
  `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX: a\0b\r\n\r\n`,
  `GET http://${HOST}/abs HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
  `GET / HTTP/2.0\r\nHost: ${HOST}\r\n\r\n`,
  `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 17\r\n\r\n${'x'.repeat(17)}`,
  `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.test\r\n\r\n`,
);
// A hostile request comes alone: pipelined behind others, node:http refuses it as soon as it reads
// it, racing the answers still owed (the 400 can come first); the fast path answers those first
// and hands the hostile one to node:http at its boundary.
const requests = fc.oneof(
  { weight: 5, arbitrary: fc.array(plain, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: hostile.map((text) => [{ text, closes: false }]) },
);
const LAST = `GET /last HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b).filter((c) => c > 0);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    pieces.push(bytes.subarray(from, c));
    from = c;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

describe('fast path: the same requests and answers as node:http', () => {
  const apps: Array<Awaited<ReturnType<typeof startApp>>> = [];
  const routers: Array<{ router: Router; port: number }> = [];

  before(async () => {
    for (const fast of [true, false]) {
      const app = await startApp();
      apps.push(app);
      routers.push(await startRouter(app.port, fast));
    }
  });

  after(async () => {
    for (const { router } of routers) await router.close();
    for (const { server } of apps) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('serves a plain request itself, and hands the connection to node:http at the next odd one', async () => {
    // Which path answered shows in the framing fields' case: the fast path writes them in
    // lowercase, node:http capitalised (both are valid, RFC 9110 §5.1).
    const fast = routers[0] as { port: number };
    const plainGet = `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
    const chunked = `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n`;
    const text = (
      await exchange(fast.port, [Buffer.from(plainGet + plainGet + chunked + plainGet + LAST)])
    ).toString('latin1');
    const framing = [...text.matchAll(/\r\n(connection|Connection): /g)].map((m) => m[1]);
    assert.deepEqual(framing, ['connection', 'connection', 'Connection', 'Connection', 'Connection']);
    assert.match(text, /"body":"hi"/);
  });

  it('a head sent a byte at a time is still served by the fast path (parsed once per line, not per byte)', async () => {
    const fast = routers[0] as { port: number };
    const get = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: ${'s'.repeat(40)}\r\n\r\n${LAST}`, 'latin1');
    const bytes = [...get].map((b) => Buffer.from([b]));
    const text = (await exchange(fast.port, bytes)).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.deepEqual([...text.matchAll(/\r\n(connection|Connection): /g)].map((m) => m[1])[0], 'connection', 'the fast path answered');
  });

  it('answers 502, as node:http does, when the app sends a control byte in a header', async () => {
    for (const { port } of routers) {
      const bad = `GET /bad-header HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
      const text = (await exchange(port, [Buffer.from(bad)])).toString('latin1');
      assert.match(text, /^HTTP\/1\.1 502 /);
      assert.ok(!text.includes('\x01'));
    }
  });

  it('pipelined requests split at arbitrary boundaries reach the app and the client alike', async () => {
    await fc.assert(
      fc.asyncProperty(requests, fc.array(fc.nat(), { maxLength: 4 }), async (requests, cuts) => {
        // Nothing is sent after a request that closes the connection: node:http reads ahead and
        // answers such bytes with a 400 racing the answer still owed; the fast path ignores them
        // (RFC 9112 §9.6). Otherwise a last request closes the connection.
        const closes = requests.findIndex((r) => r.closes);
        const texts = requests.map((r) => r.text);
        const sent = closes === -1 ? [...texts, LAST] : texts.slice(0, closes + 1);
        const bytes = Buffer.from(sent.join(''), 'latin1');
        const pieces = split(bytes, cuts);
        const [fastApp, nodeApp] = apps as [(typeof apps)[0], (typeof apps)[0]];
        fastApp.seen.length = 0;
        nodeApp.seen.length = 0;
        const [fast, node] = await Promise.all(routers.map(({ port }) => exchange(port, pieces)));
        // Answers after one that closes the connection are cut wherever the close lands.
        assert.deepEqual(
          untilClose(answers(fast as Buffer)),
          untilClose(answers(node as Buffer)),
          JSON.stringify(bytes.toString('latin1')),
        );
        // node:http forwards pipelined requests before the answer to the one ahead is done; when that
        // answer closes the connection, the app saw requests whose answers were never sent. The
        // fast path forwards one at a time, so the app sees some of what node:http sends it (in
        // the order its upstream connections deliver them).
        const unseen = [...nodeApp.seen];
        for (const request of fastApp.seen) {
          const i = unseen.findIndex((r) => JSON.stringify(r) === JSON.stringify(request));
          assert.ok(i >= 0, `the app saw ${JSON.stringify(request)} only through the fast path`);
          unseen.splice(i, 1);
        }
      }),
      { numRuns: 100 },
    );
  });
});
