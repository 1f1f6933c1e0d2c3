import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../shared/index.ts';
import { allocateLoopbackPort } from './free-port.ts';
import { applyHealthCheck, describeCheck, probeHealth, type HealthCounters } from './health-probe.ts';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('2xx and 3xx pass, 4xx and 5xx fail, and no connection is kept alive', async (t) => {
  const seen: Array<string | undefined> = [];
  const server = await serve((req, res) => {
    seen.push(req.headers.connection);
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status'));
    res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {}).end('body');
  });
  t.after(() => server.close());
  const probe = (status: number) => probeHealth(server.port, `/healthz?status=${status}`, 1000, systemClock);

  assert.deepEqual(
    (await Promise.all([200, 204, 302, 404, 500].map(probe))).map((r) => [r.ok, r.status, r.error]),
    [
      [true, 200, undefined],
      [true, 204, undefined],
      [true, 302, undefined],
      [false, 404, 'HTTP 404'],
      [false, 500, 'HTTP 500'],
    ],
  );
  assert.deepEqual(new Set(seen), new Set(['close']));
});

test('a refused connection and a slow answer are failures that say why', async (t) => {
  const closedPort = await allocateLoopbackPort();
  const refused = await probeHealth(closedPort, '/healthz', 1000, systemClock);
  assert.equal(refused.ok, false);
  assert.equal(refused.error, 'ECONNREFUSED');
  assert.equal(describeCheck('/healthz', refused), 'GET /healthz → ECONNREFUSED');

  const slow = await serve(() => undefined);
  t.after(() => slow.close());
  const started = Date.now();
  const result = await probeHealth(slow.port, '/healthz', 100, systemClock);
  assert.equal(result.ok, false);
  assert.equal(result.error, 'timed out after 100ms');
  assert.ok(Date.now() - started < 1000);
  assert.ok(result.durationMs >= 90);
});

test('thresholds: successes make a slot healthy, failures only unhealthy once it was healthy', () => {
  const thresholds = { healthyThreshold: 2, unhealthyThreshold: 3 };
  const counters: HealthCounters = { successes: 0, failures: 0 };
  assert.equal(applyHealthCheck('starting', counters, true, thresholds), undefined);
  assert.equal(
    applyHealthCheck('starting', counters, false, thresholds),
    undefined,
    'a failure resets the run',
  );
  assert.equal(applyHealthCheck('starting', counters, false, thresholds), undefined);
  assert.equal(
    applyHealthCheck('starting', counters, false, thresholds),
    undefined,
    'never unhealthy before healthy',
  );
  assert.equal(applyHealthCheck('starting', counters, true, thresholds), undefined);
  assert.equal(applyHealthCheck('starting', counters, true, thresholds), 'healthy');
  assert.equal(applyHealthCheck('healthy', counters, true, thresholds), undefined);
  assert.equal(applyHealthCheck('healthy', counters, false, thresholds), undefined);
  assert.equal(applyHealthCheck('healthy', counters, false, thresholds), undefined);
  assert.equal(
    applyHealthCheck('healthy', counters, true, thresholds),
    undefined,
    'a success resets the run',
  );
  assert.equal(applyHealthCheck('healthy', counters, false, thresholds), undefined);
  assert.equal(applyHealthCheck('healthy', counters, false, thresholds), undefined);
  assert.equal(applyHealthCheck('healthy', counters, false, thresholds), 'unhealthy');
  assert.equal(applyHealthCheck('unhealthy', counters, false, thresholds), undefined);
  assert.equal(applyHealthCheck('unhealthy', counters, true, thresholds), undefined);
  assert.equal(applyHealthCheck('unhealthy', counters, true, thresholds), 'healthy');
});

test('describeCheck says what the last check saw', () => {
  assert.equal(describeCheck('/up', undefined), 'GET /up → no check completed yet');
  assert.equal(
    describeCheck('/up', { ok: false, at: 0, durationMs: 1, status: 503, error: 'HTTP 503' }),
    'GET /up → 503',
  );
  assert.equal(
    describeCheck('/up', { ok: false, at: 0, durationMs: 1, status: 200, error: 'response aborted' }),
    'GET /up → 200 (response aborted)',
  );
});
