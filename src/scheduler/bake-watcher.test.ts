import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ManualClock, silentLogger } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { FakeRuntime, testReleaseSpec, waitFor, testActor, testColorStats } from '../testing/index.ts';
import { createDeployer } from '../deploy/index.ts';
import { createInstance, createInstanceSchema } from '../control/index.ts';
import { createBakeWatcher } from './bake-watcher.ts';

const colour = testColorStats;

test('the bake judges a release from its flip while its verify test runs, and a breach rolls it back through its abort, once', async () => {
  const store = createMemoryStore();
  const clock = new ManualClock();
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: '1', spec: testReleaseSpec('1.0.0'), createdAt: 1, createdBy: 'ci' });
  const tests = { verify: { command: 'npm run e2e', timeoutMs: 600_000 } };
  await store.insertRelease({ app: 'shop', version: '1.1.0', digest: '2', spec: testReleaseSpec('1.1.0', { tests }), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'web', app: 'shop', hosts: ['web.test'] }), { actor: 'admin', role: 'admin', requestId: null });
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
  const store = createMemoryStore();
  const clock = new ManualClock();
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
  for (const v of ['1.0.0', '1.1.0']) await store.insertRelease({ app: 'shop', version: v, digest: v, spec: testReleaseSpec(v), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'web', app: 'shop', hosts: ['web.test'] }), { actor: 'admin', role: 'admin', requestId: null });
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
