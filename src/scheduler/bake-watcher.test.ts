import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../shared/index.ts';
import { waitFor, testActor, testColorStats } from '../testing/index.ts';
import { webWithTwoReleases } from './test-web.ts';
import { createBakeWatcher } from './bake-watcher.ts';

const colour = testColorStats;

test('the bake judges a release from its flip while its verify test runs, and a breach rolls it back through its abort, once', async () => {
  const tests = { verify: { command: 'npm run e2e', timeoutMs: 600_000 } };
  const { store, clock, runtime, deployer } = await webWithTwoReleases(tests);
  const first = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') });
  await deployer.wait(first.id, 1000);
  runtime.testOutcome.set('verify', 'hang');
  const d = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  await waitFor('the verify test', () => runtime.tests.length > 0);

  const bake = createBakeWatcher({ store, deployer, runtime, clock, log: silentLogger, bakeMs: 300_000, intervalMs: 1000, thresholds: { minRequests: 20 } });
  runtime.counters.set('web', { instance: 'web', at: new Date().toISOString(), active: 'green', colors: [colour('blue', '1.0.0', first.id, 200, 0), colour('green', '1.1.0', d.id, 10, 5)] });
  assert.deepEqual((await bake.check()).map((r) => r.action), ['continue'], 'too few requests yet: keeps watching, the test goes on');
  runtime.counters.set('web', { instance: 'web', at: new Date().toISOString(), active: 'green', colors: [colour('blue', '1.0.0', first.id, 200, 0), colour('green', '1.1.0', d.id, 20, 20)] });
  assert.deepEqual((await bake.check()).map((r) => r.action), ['rollback']);

  const settled = (await deployer.wait(d.id, 5000))!;
  assert.equal(settled.status, 'aborted');
  assert.equal(settled.abort?.actor, 'analysis');
  assert.equal(settled.rollback?.strategy, 'flip-to-warm');
  assert.ok(runtime.calls.includes('cancelTest web'), 'the verify test is killed');
  assert.equal(runtime.active('web'), 'blue');
  const entries = await store.listAudit({ instance: 'web' });
  assert.equal(entries.filter((e) => e.action === 'bake.rollback').length, 1);
  assert.equal((await store.listProblems({ version: '1.1.0' })).length, 1);
  assert.deepEqual(await bake.check(), [], 'judged once');
  await bake.stop();
});

test('one replica bakes (the ~bake-watcher lease); when it stops or dies, another carries on from the store', async () => {
  const { store, clock, runtime, deployer } = await webWithTwoReleases();
  const first = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') });
  await deployer.wait(first.id, 1000);
  const d = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  await deployer.wait(d.id, 1000);
  runtime.counters.set('web', { instance: 'web', at: new Date().toISOString(), active: 'green', colors: [colour('blue', '1.0.0', first.id, 200, 0), colour('green', '1.1.0', d.id, 10, 0)] });
  const options = { store, deployer, runtime, clock, log: silentLogger, bakeMs: 300_000, intervalMs: 1000, thresholds: { minRequests: 20 } };
  const a = createBakeWatcher({ ...options, owner: 'replica-a' });
  const b = createBakeWatcher({ ...options, owner: 'replica-b' });
  assert.deepEqual((await a.check()).map((r) => r.action), ['continue']);
  assert.deepEqual(await b.check(), [], 'A holds the bake');
  clock.advance(3000); // A died: its lease ran out after three passes
  assert.deepEqual((await b.check()).map((r) => r.action), ['continue']);
  assert.deepEqual(await a.check(), [], 'B holds it now');
  await b.stop();
  assert.deepEqual((await a.check()).map((r) => r.action), ['continue'], 'a stop hands it over at once');
  await a.stop();
});
