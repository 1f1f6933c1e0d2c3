import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../shared/index.ts';
import { allocateLoopbackPort } from './free-port.ts';
import { describeDrain, probeDrain, readDrainBody } from './drain-probe.ts';

test('a drain answer is done on 204 or pending 0, and says why it cannot be read otherwise', () => {
  assert.deepEqual(readDrainBody(204, ''), { done: true, status: 204 });
  assert.deepEqual(readDrainBody(200, '{"pending":0}'), { done: true, status: 200, pending: 0 });
  assert.deepEqual(readDrainBody(200, '{"pending":3,"message":"3 jobs still running"}'), {
    done: false,
    status: 200,
    pending: 3,
    message: '3 jobs still running',
  });
  assert.deepEqual(readDrainBody(503, '{"pending":0}'), { done: false, status: 503, error: 'HTTP 503' });
  assert.equal(readDrainBody(200, 'ok').error, 'the answer is not JSON with a "pending" count');
  assert.equal(readDrainBody(200, '{"pending":"many"}').error, 'the answer has no "pending" count');
  assert.equal(readDrainBody(200, `{"pending":1,"message":"${'x'.repeat(500)}"}`).message?.length, 200);
});

test('probeDrain asks the app over loopback and never throws', async (t) => {
  let pending = 2;
  const server = createServer((req, res) => {
    if (req.url !== '/drain') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pending: pending-- }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;

  const first = await probeDrain(port, '/drain', 1000, systemClock);
  assert.equal(first.pending, 2);
  assert.equal(first.done, false);
  assert.equal(describeDrain('/drain', first), '2 pending');
  await probeDrain(port, '/drain', 1000, systemClock);
  const last = await probeDrain(port, '/drain', 1000, systemClock);
  assert.equal(last.done, true);
  assert.equal(describeDrain('/drain', last), 'done');
  assert.equal((await probeDrain(port, '/other', 1000, systemClock)).error, 'HTTP 404');

  const refused = await probeDrain(await allocateLoopbackPort(), '/drain', 1000, systemClock);
  assert.deepEqual([refused.done, refused.error], [false, 'ECONNREFUSED']);
  assert.equal(describeDrain('/drain', refused), 'GET /drain → ECONNREFUSED');
});
