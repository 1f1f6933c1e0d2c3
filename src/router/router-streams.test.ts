// Issue 12: long responses and the router's own endings. A stream cut by a slot's drain ends with
// the chunked terminator (never a reset); when the router closes (a takeover), answers in flight
// say `Connection: close` and streams are ended cleanly after a short grace, not the drain
// timeout; an upload that runs over the limit after the app answered is never 200 + reset.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { Router, RouterOptions } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen, TestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';

const HOST = 'feed.test';

interface Stream {
  headers: IncomingHttpHeaders;
  text: () => string;
  /** 'end': complete message (terminator seen); 'error': cut (reset or premature close). */
  ended: Promise<'end' | 'error'>;
}

function get(port: number, path: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: HOST }, agent: false }, (res) => {
      let text = '';
      const ended = new Promise<'end' | 'error'>((done) => {
        res.on('end', () => done('end'));
        res.on('error', () => done('error'));
        res.on('aborted', () => done('error'));
      });
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      resolve({ headers: res.headers, text: () => text, ended });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('router streams', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;
  let bg: BlueGreen;

  async function start(options: RouterOptions): Promise<void> {
    bg = await startBlueGreen({ router: { pauseTimeoutMs: 0, ...options }, instance: 'feed', host: HOST });
    ({ router, port, blue } = bg);
  }

  afterEach(async () => {
    await bg.close();
  });

  it('a slot drain that runs out ends its event streams with the chunked terminator, not a reset', async () => {
    await start({ drainTimeoutMs: 10_000 });
    const streams = await Promise.all([0, 1, 2].map(() => get(port, '/sse')));
    await waitFor('three streams open', () => blue.sseOpen === 3);
    router.activate('feed', 'green');
    await router.drainSlot('feed', 'blue', 200);
    for (const s of streams) {
      assert.equal(await s.ended, 'end');
      assert.match(s.text(), /hello 1\.0\.0/);
    }
  });

  it('a stream the app ends finishes the drain at once, not at its timeout', async () => {
    await start({ drainTimeoutMs: 10_000 });
    const stream = await get(port, '/sse');
    await waitFor('stream open', () => blue.sseOpen === 1);
    router.activate('feed', 'green');
    const started = performance.now();
    const drained = router.drainSlot('feed', 'blue', 10_000);
    blue.endSse();
    await drained;
    assert.ok(performance.now() - started < 5000, 'the drain ended with the stream');
    assert.equal(await stream.ended, 'end');
  });

  it('closing: in-flight answers say Connection: close, streams end cleanly after the stream grace', async () => {
    await start({ drainTimeoutMs: 20_000, streamGraceMs: 300 });
    const sse = await get(port, '/sse');
    const slow = [0, 1, 2].map(() => get(port, '/slow'));
    await blue.slowWaiting(3);
    const started = performance.now();
    const closed = router.close();
    // Answered after the close began (past the idle grace, as in acceptance §3).
    await new Promise((resolve) => setTimeout(resolve, 400));
    blue.releaseSlow();
    for (const answer of await Promise.all(slow)) {
      assert.equal(answer.headers.connection, 'close', 'a keep-alive client reconnects (to a successor)');
      assert.equal(await answer.ended, 'end');
    }
    assert.equal(await sse.ended, 'end', 'the event stream ended with its terminator');
    await closed;
    assert.ok(performance.now() - started < 10_000, 'the close did not wait for the 20 s drain timeout');
  });

  it('an upload over the limit: 413 before the app answers; after it, an unterminated answer and a FIN, never a reset', async () => {
    const limit = 1000;
    await start({ maxBodyBytes: limit });
    // The app reads the whole body before answering: 413.
    const refused = await rawExchange(port, '/upload', [Buffer.alloc(600), Buffer.alloc(600)], false);
    assert.match(refused.text, /^HTTP\/1\.1 413/);
    assert.equal(refused.reset, false);
    // The app streams its answer while the body comes in (/echo): the 200 is out when the limit runs over.
    // Much more than the limit follows (as in acceptance §5): bytes still arriving when the router
    // gives up on the exchange must be read, or closing would send a reset.
    const upload = [Buffer.alloc(600), ...Array.from({ length: 32 }, () => Buffer.alloc(64 * 1024, 1))];
    const streamed = await rawExchange(port, '/echo', upload, true);
    assert.match(streamed.text, /^HTTP\/1\.1 200/);
    assert.equal(streamed.reset, false, 'the connection ends with a FIN');
    assert.ok(!streamed.text.endsWith('\r\n0\r\n\r\n'), 'the answer is not passed off as complete');
  });
});

/**
 * Sends a chunked POST one chunk at a time (after the first, waiting for the response head when
 * `waitHead`), then the terminator; resolves with what came back and whether it ended in a reset.
 */
async function rawExchange(
  port: number,
  path: string,
  chunks: Buffer[],
  waitHead: boolean,
): Promise<{ text: string; reset: boolean }> {
  const socket = connect(port, '127.0.0.1');
  let reset = false;
  socket.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'ECONNRESET') reset = true;
  });
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  const closed = once(socket, 'close');
  socket.write(`POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`);
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as Buffer;
    if (socket.destroyed || !socket.writable) break;
    socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    socket.write('\r\n');
    if (i === 0 && waitHead) await waitFor('the app answered', () => text.startsWith('HTTP/1.1 200'));
  }
  if (socket.writable) socket.write('0\r\n\r\n');
  await closed;
  return { text, reset };
}
