import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { UpstreamPool } from './upstream-pool.ts';
import type { UpstreamHandler, UpstreamRequest } from './upstream-pool.ts';

/** A raw TCP "app": `answer` writes whatever it likes for each request head it reads. */
async function rawApp(answer: (socket: Socket, head: string, n: number) => void): Promise<{
  server: Server;
  port: number;
  connections: number;
  /** Every byte received, in order. */
  raw: string;
}> {
  const app = { server: createServer(), port: 0, connections: 0, raw: '' };
  let n = 0;
  app.server.on('connection', (socket) => {
    app.connections++;
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      app.raw += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        answer(socket, head, n++);
      }
    });
  });
  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

interface Outcome {
  status: number;
  body: string;
  error: string | null;
}

function request(pool: UpstreamPool, r: Partial<UpstreamRequest> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { status: 0, body: '', error: null };
    const handler: UpstreamHandler = {
      onConnect: () => undefined,
      onHeaders: (status) => ((out.status = status), true),
      onData: (chunk) => ((out.body += chunk.toString()), true),
      onComplete: () => resolve(out),
      onError: (err) => resolve({ ...out, error: (err as { code?: string }).code ?? err.message }),
    };
    pool.dispatch({ path: '/', method: 'GET', headers: ['host', 'app.test'], body: null, ...r }, handler);
  });
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('upstream pool', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  async function setUp(answer: (socket: Socket, head: string, n: number) => void, connections = 4) {
    const app = await rawApp(answer);
    const pool = new UpstreamPool({ host: '127.0.0.1', port: app.port, connections, headersTimeoutMs: 2000 });
    cleanup.push(
      () => new Promise((resolve) => app.server.close(resolve)),
      () => pool.destroy(),
    );
    app.server.on('connection', (s) => cleanup.push(async () => void s.destroy()));
    return { app, pool };
  }

  it('keeps one connection alive across requests, and queues beyond the limit', async () => {
    const { app, pool } = await setUp((socket) => socket.write(OK), 1);
    const answers = await Promise.all([request(pool), request(pool), request(pool)]);
    assert.deepEqual(
      answers.map((a) => a.body),
      ['ok', 'ok', 'ok'],
    );
    assert.equal(app.connections, 1);
  });

  it('a malformed answer fails its request and the connection is not reused', async () => {
    const { app, pool } = await setUp((socket, _head, n) =>
      socket.write(n === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok' : OK),
    );
    assert.equal((await request(pool)).error, 'UPSTREAM_BAD_RESPONSE');
    assert.equal((await request(pool)).body, 'ok');
    assert.equal(app.connections, 2);
  });

  it('bytes after the end of a response close the connection', async () => {
    const { app, pool } = await setUp((socket, _head, n) => socket.write(n === 0 ? `${OK}extra` : OK));
    assert.equal((await request(pool)).body, 'ok');
    assert.equal((await request(pool)).body, 'ok');
    assert.equal(app.connections, 2);
  });

  it('does not reuse a connection past the app keep-alive hint (less a margin)', async () => {
    const { app, pool } = await setUp((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok'),
    );
    await request(pool);
    await request(pool);
    assert.equal(app.connections, 2);
  });

  it('says UPSTREAM_CLOSED when the app closes before answering', async () => {
    const { pool } = await setUp((socket) => socket.destroy());
    assert.equal((await request(pool)).error, 'UPSTREAM_CLOSED');
  });

  it('frames a body without length as chunked', async () => {
    const { app, pool } = await setUp((socket) => setTimeout(() => socket.write(OK), 50));
    const { Readable } = await import('node:stream');
    const body = Readable.from([Buffer.from('abc')]);
    assert.equal((await request(pool, { method: 'POST', body })).body, 'ok');
    assert.match(app.raw, /transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n$/);
  });

  it('destroy() ends requests in flight with UPSTREAM_DESTROYED; close() refuses new ones', async () => {
    const { pool } = await setUp(() => undefined);
    const pending = request(pool);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.destroy();
    assert.equal((await pending).error, 'UPSTREAM_DESTROYED');
    assert.equal((await request(pool)).error, 'UPSTREAM_DESTROYED');
  });

  it('close() lets the request in flight finish, twice over, and refuses new ones', async () => {
    let answer: (() => void) | null = null;
    const { pool } = await setUp((socket) => (answer = () => socket.write(OK)));
    const pending = request(pool);
    while (answer === null) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = [pool.close(), pool.close()];
    assert.equal((await request(pool)).error, 'UPSTREAM_DESTROYED');
    (answer as () => void)();
    assert.equal((await pending).body, 'ok');
    await Promise.all(closed);
  });

  it('answers UPSTREAM_HEADERS_TIMEOUT when no head comes in time', async () => {
    const app = await rawApp(() => undefined);
    const pool = new UpstreamPool({
      host: '127.0.0.1',
      port: app.port,
      connections: 1,
      headersTimeoutMs: 50,
    });
    cleanup.push(
      () => new Promise((resolve) => app.server.close(resolve)),
      () => pool.destroy(),
    );
    assert.equal((await request(pool)).error, 'UPSTREAM_HEADERS_TIMEOUT');
  });
});

describe('upstream pool: request targets', () => {
  it('refuses to write a target that would split the request line', async () => {
    const pool = new UpstreamPool({ host: '127.0.0.1', port: 9, connections: 1, headersTimeoutMs: 50 });
    assert.equal((await request(pool, { path: '/a b' })).error, 'UPSTREAM_INVALID_REQUEST');
    assert.equal((await request(pool, { path: '/a\r\nX: y' })).error, 'UPSTREAM_INVALID_REQUEST');
    await pool.destroy();
  });
});

describe('upstream pool: aborts from inside a callback', () => {
  it('a request aborted while its body is relayed is not completed, and its connection is not reused', async () => {
    const app = await rawApp((socket) => socket.write(OK));
    const pool = new UpstreamPool({
      host: '127.0.0.1',
      port: app.port,
      connections: 1,
      headersTimeoutMs: 2000,
    });
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve) => {
        let abort: (err?: Error) => void = () => undefined;
        pool.dispatch(
          { path: '/', method: 'GET', headers: ['host', 'app.test'], body: null },
          {
            onConnect: (a) => (abort = a),
            onHeaders: () => true,
            onData: () => {
              abort(new Error('client gone'));
              return true;
            },
            onComplete: () => seen.push('complete'),
            onError: (err) => {
              seen.push(`error: ${err.message}`);
              setTimeout(resolve, 20);
            },
          },
        );
      });
      assert.deepEqual(seen, ['error: client gone']);
      assert.equal((await request(pool)).body, 'ok');
      assert.equal(app.connections, 2);
    } finally {
      await pool.destroy();
      await new Promise((resolve) => app.server.close(resolve));
    }
  });
});
