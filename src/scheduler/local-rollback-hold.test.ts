// While a machine's local rollback is not recorded yet, the watchers leave its instance alone: the
// record says the release rolled back from is live, and anything they did from it (a bake's or a
// health rollback, a report, a redeploy) would be based on a state the machine has left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ManualClock, silentLogger } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { FakeRuntime, testActor, testReleaseSpec, testColorStats } from '../testing/index.ts';
import { createDeployer, createLocalRollbackReconciler } from '../deploy/index.ts';
import { createInstance, createInstanceSchema } from '../control/index.ts';
import { createBakeWatcher } from './bake-watcher.ts';
import { createHealthWatcher } from './health-watcher.ts';
import { createRollbackGuard } from './rollback-guard.ts';

const colour = testColorStats;

test('a local rollback not recorded yet holds the bake and health watchers off the instance; recorded, nothing flips it forward', async () => {
  const store = createMemoryStore();
  const clock = new ManualClock(Date.parse('2026-12-06T08:00:00Z'));
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 600_000, lockTtlMs: 60_000 });
  for (const v of ['1.0.0', '1.1.0']) await store.insertRelease({ app: 'shop', version: v, digest: v, spec: testReleaseSpec(v), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'web', app: 'shop', hosts: ['web.test'] }), { actor: 'admin', role: 'admin', requestId: null });
  const first = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') });
  await deployer.wait(first.id, 1000);
  clock.advance(1000);
  const second = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  await deployer.wait(second.id, 1000);

  // The server goes away; on the machine, the operator rolls back to the warm 1.0.0.
  clock.advance(1000);
  await runtime.rollBackLocally('web');
  // 1.1.0 was failing: its counters breach the bake, and its slot is failing too.
  runtime.counters.set('web', { instance: 'web', at: new Date().toISOString(), active: 'blue', colors: [colour('blue', '1.0.0', first.id, 200, 0), colour('green', '1.1.0', second.id, 20, 40)] });
  runtime.instances.get('web')!.slots.find((s) => s.color === 'green')!.state = 'failed';

  const reconciler = createLocalRollbackReconciler({ store, clock, rollbackWindowMs: 600_000, lockTtlMs: 60_000 }, 'web-1', runtime);
  const guard = createRollbackGuard({ store, deployer, clock });
  const watching = { store, deployer, runtime, clock, log: silentLogger, guard, holds: reconciler.holds };
  const bake = createBakeWatcher({ ...watching, bakeMs: 300_000, intervalMs: 1000, thresholds: { minRequests: 20 } });
  const health = createHealthWatcher({ ...watching, intervalMs: 1000, rollbackOnUnhealthy: true, owner: 'a' });

  // The server is back: before its first round has read the machine's report, nothing is judged.
  const flips = () => runtime.calls.filter((c) => c.startsWith('flip')).length;
  const flipsBefore = flips();
  assert.deepEqual(await bake.check(), []);
  assert.deepEqual(await health.check(), []);
  await deployer.idle();
  assert.deepEqual((await store.listDeployments({ instance: 'web' })).map((d) => d.actor), ['admin', 'admin'], 'no rollback by analysis or health');
  assert.deepEqual(await store.listAudit({ action: 'slot.unhealthy' }), []);

  // The round records it; from then on the watchers see the records the machine left.
  assert.deepEqual((await reconciler.run()).map((o) => o.outcome), ['record']);
  clock.advance(1000);
  assert.deepEqual(await bake.check(), [], 'the latest deployment is the rollback: nothing bakes');
  assert.deepEqual(await health.check(), [], 'the live slot (blue 1.0.0) is healthy');
  await deployer.idle();
  assert.equal(flips(), flipsBefore, 'nothing flipped the machine');
  assert.equal(runtime.active('web'), 'blue');
  const latest = (await store.listDeployments({ instance: 'web', limit: 1 }))[0]!;
  assert.deepEqual([latest.kind, latest.actor, latest.toVersion], ['rollback', 'machine:web-1', '1.0.0']);
  await bake.stop();
  await health.stop();
});
