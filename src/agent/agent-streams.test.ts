// Issue 12 / acceptance §4: stopping a slot tells the app (SIGTERM) while the router drains it, so
// an app that ends its event streams on SIGTERM ends them itself (its last event arrives, then the
// chunked terminator), instead of the HTTP drain timing out and cutting them with a reset first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { deploy, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

let t: TestAgent;
let cleanup: () => Promise<void>;
const HOST = 'feed.test';

before(async () => {
  const data = await tempDataDir();
  cleanup = data.cleanup;
  t = await startTestAgent(data.dir);
  await deploy(t.client, 'feed', HOST, { blue: { version: '1.0.0' }, green: { version: '1.1.0' } });
  await t.client.flip('feed', 'blue');
});
after(async () => {
  await t?.stop();
  await cleanup?.();
});

/** Opens `/sse` and resolves once the first event arrived; `ended` says how the stream finished. */
function openStream(port: number): Promise<{ text: () => string; ended: Promise<'end' | 'error'> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/sse', headers: { host: HOST }, agent: false }, (res) => {
      let text = '';
      const ended = new Promise<'end' | 'error'>((done) => {
        res.on('end', () => done('end'));
        res.on('error', () => done('error'));
        res.on('aborted', () => done('error'));
      });
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (text.includes('hello')) resolve({ text: () => text, ended });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('stopping a slot lets the app end its streams: last event, then a clean end, well within drainTimeout', async () => {
  const streams = await Promise.all([0, 1, 2].map(() => openStream(t.agent.routerPort)));
  await t.client.flip('feed', 'green');
  const started = performance.now();
  await t.client.stopSlot('feed', 'blue');
  const took = performance.now() - started;
  for (const s of streams) {
    assert.equal(await s.ended, 'end', 'the stream ended with its terminator, not a reset');
    assert.match(s.text(), /data: bye/, 'the app was told before the HTTP drain ran out');
  }
  // The test agent's drainTimeout is 2 s: a stream the app ends does not make the stop wait for it.
  assert.ok(took < 2000 + 1500, `stop took ${Math.round(took)} ms`);
});
