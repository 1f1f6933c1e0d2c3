import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { startTestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';
import type { TestApp } from './test-app.ts';

const HOST = 'shop.test';
const LIMIT = 1000;

/** A raw client connection that accumulates everything it receives. */
async function rawClient(
  port: number,
): Promise<{ socket: Socket; text: () => string; closed: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  return { socket, text: () => text, closed: once(socket, 'close') };
}

function connections(app: TestApp): Promise<number> {
  return new Promise((resolve, reject) => app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
}

describe('router protocol', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;

  before(async () => {
    blue = await startTestApp('1.0.0');
    router = createRouter({
      maxBodyBytes: LIMIT,
      clientHeadersTimeoutMs: 300,
      clientRequestTimeoutMs: 600,
      pauseTimeoutMs: 0,
    });
    port = await router.listen(0, '127.0.0.1');
    router.setInstance('shop', [HOST]);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: blue.port });
    router.activate('shop', 'blue');
  });

  after(async () => {
    await router.close();
    await blue.close();
  });

  it('keeps connections alive on both sides', async () => {
    const client = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      for (let i = 0; i < 20; i++) {
        const res = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
        assert.equal(await res.body.text(), '1.0.0');
      }
      assert.equal(connects, 1, 'one client connection for 20 requests');
      assert.equal(await connections(blue), 1, 'one upstream connection for 20 requests');
    } finally {
      await client.close();
    }
  });

  it('answers Expect: 100-continue once it forwards, and refuses without 100 when it will not', async () => {
    const ok = await rawClient(port);
    ok.socket.write(
      `POST /echo HTTP/1.1\r\nHost: ${HOST}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`,
    );
    await waitFor('100 Continue', () => ok.text().startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    ok.socket.write('hello');
    await waitFor('the echoed body', () => ok.text().includes('\r\nhello\r\n'));
    assert.match(ok.text(), /HTTP\/1\.1 200 OK/);
    ok.socket.destroy();
    for (const [head, status] of [
      [
        `POST /echo HTTP/1.1\r\nHost: ${HOST}\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
        '413',
      ],
      [
        `POST /echo HTTP/1.1\r\nHost: nobody.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`,
        '404',
      ],
    ] as const) {
      const refused = await rawClient(port);
      refused.socket.write(head);
      await waitFor('a final answer', () => refused.text().includes('\r\n\r\n'));
      assert.ok(refused.text().startsWith(`HTTP/1.1 ${status} `), refused.text());
      assert.ok(!refused.text().includes('100 Continue'));
      refused.socket.destroy();
    }
  });

  it('answers 413 for a declared or a counted body over the limit', async () => {
    const declared = await rawClient(port);
    declared.socket.write(`POST /echo HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    await waitFor('an answer', () => declared.text().includes('\r\n\r\n'));
    assert.match(declared.text(), /^HTTP\/1\.1 413 /);
    assert.match(declared.text(), /connection: close/i);
    declared.socket.destroy();
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/echo',
        headers: { host: HOST, 'transfer-encoding': 'chunked' },
        agent: false,
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 3; i++) req.write(Buffer.alloc(LIMIT / 2, 97));
      req.end();
    });
    assert.equal(status, 413);
    // Under the limit, chunked bodies stream through.
    const client = new Pool(`http://127.0.0.1:${port}`);
    try {
      const res = await client.request({
        path: '/echo',
        method: 'POST',
        headers: { host: HOST },
        body: Readable.from(['a'.repeat(400), 'b'.repeat(400)]),
      });
      assert.equal((await res.body.text()).length, 800);
    } finally {
      await client.close();
    }
  });

  it('relays server-sent events as they come, unbuffered', async () => {
    const client = new Pool(`http://127.0.0.1:${port}`);
    try {
      const res = await client.request({ path: '/sse', method: 'GET', headers: { host: HOST } });
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let text = '';
      res.body.setEncoding('utf8');
      res.body.on('data', (d: string) => (text += d));
      await waitFor('the first event while the stream is open', () => text === 'data: hello 1.0.0\n\n');
      blue.pushSse('second');
      await waitFor('the pushed event', () => text.endsWith('data: second\n\n'));
      res.body.destroy();
      await waitFor('the app to see the client leave', () => blue.sseOpen === 0);
    } finally {
      await client.close();
    }
  });

  it('answers 408 to a client that does not finish its headers in time', async () => {
    const slow = await rawClient(port);
    slow.socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`);
    await slow.closed;
    assert.match(slow.text(), /^HTTP\/1\.1 408 /);
  });

  it('answers 408 to a client that does not finish its body in time', async () => {
    const slow = await rawClient(port);
    slow.socket.write(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\nonly ten..`);
    const started = Date.now();
    await slow.closed;
    assert.ok(Date.now() - started < 3000);
    assert.match(slow.text(), /^HTTP\/1\.1 408 /);
    await waitFor('the upstream request aborted', () => router.state()[0]?.slots[0]?.inFlight === 0);
  });

  it('closes an idle keep-alive connection after the idle timeout', async () => {
    const idleRouter = createRouter({ clientIdleTimeoutMs: 300 });
    const idlePort = await idleRouter.listen(0, '127.0.0.1');
    try {
      idleRouter.setInstance('shop', [HOST]);
      idleRouter.setSlot('shop', { color: 'blue', version: '1.0.0', port: blue.port });
      idleRouter.activate('shop', 'blue');
      const idle = await rawClient(idlePort);
      idle.socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      await waitFor('the answer', () => idle.text().endsWith('1.0.0'));
      const answered = Date.now();
      await idle.closed;
      const after = Date.now() - answered;
      assert.ok(after >= 200 && after < 2000, `closed ${after} ms after the answer`);
    } finally {
      await idleRouter.close();
    }
  });

  it('close() does not wait for connections that never sent a request', async () => {
    const closing = createRouter({ drainTimeoutMs: 10_000 });
    const closingPort = await closing.listen(0, '127.0.0.1');
    const preconnected = await rawClient(closingPort);
    const started = Date.now();
    await closing.close();
    await preconnected.closed;
    assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms`);
  });
});
