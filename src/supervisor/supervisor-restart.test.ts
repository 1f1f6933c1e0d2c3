import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pidFilePath } from './pid-file.ts';
import { getText, harness, isAlive, slotSpec } from './test-harness.ts';
import { waitFor } from '../testing/index.ts';
import type { SlotInfo } from './types.ts';

/** Small delays so the suite stays quick; the defaults are 250 ms doubling to 30 s. */
const FAST_RESTART = { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 60_000, maxCrashes: 5, windowMs: 60_000 };

test('a crashed healthy slot restarts in place on the same port, with a doubling backoff, and each crash is recorded', async (t) => {
  const h = await harness({ restart: FAST_RESTART });
  t.after(() => h.close());
  const changes: SlotInfo[] = [];
  h.supervisor.onChange((info) => changes.push(info));
  const first = await h.supervisor.start(slotSpec({ fixture: 'crashy-app.mjs' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  const crashedAt = Date.now();
  await getText(first.port, '/crash?code=7');
  await waitFor('the restart', () => h.supervisor.get('shop', 'green')?.restarts === 1);
  const back = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(back.ok, true);
  const elapsed = Date.now() - crashedAt;
  assert.ok(elapsed >= 100, `waited for the backoff (${elapsed}ms)`);
  assert.ok(elapsed < 3000, `restarted promptly (${elapsed}ms)`);
  const second = back.info;
  assert.equal(second.port, first.port, 'same port: the router keeps pointing at it');
  assert.notEqual(second.pid, first.pid);
  assert.equal(await isAlive(first.pid ?? 0), false);
  assert.equal((await getText(first.port, '/pid')).body, String(second.pid));

  const restarting = changes.find((c) => c.state === 'restarting');
  const crash = restarting?.crashes?.[0];
  assert.ok(crash !== undefined, 'the crash reached onChange');
  assert.deepEqual([crash.exitCode, crash.signal, crash.attempt], [7, null, 1]);
  assert.equal((crash.nextRestartAt ?? 0) - crash.at, 100);

  await getText(first.port, '/kill');
  await waitFor('the second restart', () => h.supervisor.get('shop', 'green')?.restarts === 2);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const info = h.supervisor.get('shop', 'green');
  assert.deepEqual(
    info?.crashes?.map((c) => [c.exitCode, c.signal, c.attempt, (c.nextRestartAt ?? 0) - c.at]),
    [
      [7, null, 1, 100],
      [null, 'SIGKILL', 2, 200],
    ],
  );
  assert.deepEqual(
    changes.map((c) => c.state),
    ['healthy', 'restarting', 'starting', 'healthy', 'restarting', 'starting', 'healthy'],
  );
  const tail = h.supervisor.tail('shop', 'green');
  assert.ok(tail.includes('crashing with code 7'), 'the app output before the crash is kept');
  assert.ok(tail.some((l) => / sup exited with code 7; restarting in 100ms \(attempt 1, /.test(l)));
  assert.ok(tail.some((l) => / sup was killed by SIGKILL; restarting in 200ms \(attempt 2, /.test(l)));

  // The pid file follows the process a later agent would adopt.
  const pidInfo = JSON.parse(await readFile(pidFilePath(h.logDir, 'shop', 'green'), 'utf8'));
  assert.deepEqual(
    [pidInfo.pid, pidInfo.pgid, pidInfo.port, pidInfo.version],
    [info?.pid, info?.pid, first.port, '1.2.0'],
  );
  await h.supervisor.stop('shop', 'green');
  await assert.rejects(stat(pidFilePath(h.logDir, 'shop', 'green')), /ENOENT/);
});

test('a slot that crashes maxCrashes times in the window is failed and not restarted again', async (t) => {
  const h = await harness({ restart: { ...FAST_RESTART, initialDelayMs: 20, maxCrashes: 3 } });
  t.after(() => h.close());
  const marker = join(h.logDir, 'crash-loop');
  const info = await h.supervisor.start(slotSpec({ fixture: 'crashy-app.mjs', env: { CRASH_MARKER: marker } }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const failed = new Promise<SlotInfo>((resolve) =>
    h.supervisor.onChange((change) => change.state === 'failed' && resolve(change)),
  );

  await getText(info.port, '/crash?code=1&loop=1');
  const change = await failed;
  assert.deepEqual(
    change.crashes?.map((c) => [c.exitCode, c.attempt, c.nextRestartAt === undefined]),
    [
      [1, 1, false],
      [2, 2, false],
      [2, 3, true],
    ],
  );
  assert.equal(change.restarts, 2);
  assert.match(change.error ?? '', /^crashed 3 times within 1m \(last: exited with code 2\); not restarted again$/);
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 1000);
  assert.equal(outcome.ok, false);
  if (!outcome.ok) {
    assert.equal(outcome.reason, 'exited');
    assert.match(outcome.message, /slot shop\/green \(1\.2\.0\) crashed 3 times .* not restarted again/);
    assert.ok(outcome.logTail.includes('crashing at start'));
  }
  await assert.rejects(stat(pidFilePath(h.logDir, 'shop', 'green')), /ENOENT/, 'nothing to adopt');
  // Not live: a new start may replace it.
  await h.supervisor.start(slotSpec({ fixture: 'healthy-app.mjs', version: '1.2.1' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
});

test('a restart waits while another process holds the port, says so, and retries', async (t) => {
  const h = await harness({ restart: { ...FAST_RESTART, initialDelayMs: 300 } });
  const squatter = createServer();
  t.after(async () => {
    if (squatter.listening) await new Promise((resolve) => squatter.close(resolve));
    await h.close();
  });
  const info = await h.supervisor.start(slotSpec({ fixture: 'crashy-app.mjs' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const squatting = new Promise<void>((resolve) => {
    const off = h.supervisor.onChange((change) => {
      if (change.state !== 'restarting') return;
      off();
      squatter.listen({ host: '127.0.0.1', port: info.port }, resolve);
    });
  });

  await getText(info.port, '/crash?code=1');
  await squatting;
  await waitFor('the port conflict to be reported', () =>
    (h.supervisor.get('shop', 'green')?.crashes ?? []).some((c) => c.error !== undefined),
  );
  const conflict = h.supervisor.get('shop', 'green')?.crashes?.at(-1);
  assert.match(conflict?.error ?? '', new RegExp(`^port ${info.port} is in use by another process`));
  assert.equal(conflict?.attempt, 2);
  assert.equal(h.supervisor.get('shop', 'green')?.state, 'restarting');

  await new Promise((resolve) => squatter.close(resolve));
  const back = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(back.ok, true);
  assert.equal(back.info.port, info.port);
  assert.equal(back.info.restarts, 1);
});

test('a slot that exits before it was ever healthy is a failed start, not restarted', async (t) => {
  const h = await harness({ restart: FAST_RESTART });
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'crash-app.mjs' }));
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(outcome.ok, false);
  assert.equal(h.supervisor.get('shop', 'green')?.state, 'exited');
  assert.equal(h.supervisor.get('shop', 'green')?.crashes, undefined);
});

test('stopping a slot that waits to restart cancels the restart', async (t) => {
  const h = await harness({ restart: { ...FAST_RESTART, initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  t.after(() => h.close());
  const info = await h.supervisor.start(slotSpec({ fixture: 'crashy-app.mjs' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  await getText(info.port, '/crash?code=1');
  await waitFor('restarting', () => h.supervisor.get('shop', 'green')?.state === 'restarting');
  const waiting = await h.supervisor.waitHealthy('shop', 'green', 50);
  assert.equal(waiting.ok, false);
  if (!waiting.ok) assert.match(waiting.message, /crashed \(exited with code 1\) and is waiting to restart/);
  const stopped = await h.supervisor.stop('shop', 'green');
  assert.equal(stopped?.state, 'stopped');
  assert.equal(stopped?.restarts, undefined);
});

test('health thresholds keep applying after the slot was healthy: a short blip is not unhealthy', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const changes: SlotInfo[] = [];
  h.supervisor.onChange((info) => changes.push(info));
  const health = { path: '/healthz', intervalMs: 30, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3 };
  const info = await h.supervisor.start(slotSpec({ health }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  // Two failed checks in a row, one short of the threshold.
  await getText(info.port, '/fail?count=2');
  await waitFor('the failures to be used up', async () => (await getText(info.port, '/failures-left')).body === '0');
  await waitFor('a passing check again', () => h.supervisor.get('shop', 'green')?.lastCheck?.ok === true);
  assert.equal(h.supervisor.get('shop', 'green')?.state, 'healthy');

  // Three is the threshold: unhealthy, reported with the check behind it, then healthy again.
  await getText(info.port, '/fail?count=3');
  await waitFor('unhealthy', () => changes.some((c) => c.state === 'unhealthy'));
  const unhealthy = changes.find((c) => c.state === 'unhealthy');
  assert.deepEqual([unhealthy?.lastCheck?.ok, unhealthy?.lastCheck?.status], [false, 500]);
  assert.equal(unhealthy?.healthySince, undefined);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  assert.deepEqual(
    changes.map((c) => c.state),
    ['healthy', 'unhealthy', 'healthy'],
  );
  assert.equal(changes.at(-1)?.lastCheck?.ok, true);
});
