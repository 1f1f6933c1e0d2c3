import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testActor, testInstance } from '../testing/index.ts';
import { createLocalRollbackReconciler, judgeLocalRollback, localRollbackDeploymentId, localRollbackRecords, reconcileLocalRollbacks } from './local-rollbacks.ts';
import { deployerTestbed } from './test-deployer.ts';

const MACHINE = 'web-1';
const by = testActor('alice');

/** `web` deployed 1.0.0 (blue) then 1.1.0 (green): blue warm; then rolled back on the machine. */
async function rolledBackLocally() {
  const t = await deployerTestbed();
  await t.run(t.deployer.deploy({ instance: 'web', version: '1.0.0', by }));
  t.clock.advance(1000);
  await t.run(t.deployer.deploy({ instance: 'web', version: '1.1.0', by }));
  t.clock.advance(1000);
  const action = await t.runtime.rollBackLocally('web');
  t.clock.advance(5000); // the server comes back later
  const log = { lines: [] as string[], info: (_: object, msg: string) => void log.lines.push(`info ${msg}`), warn: (_: object, msg: string) => void log.lines.push(`warn ${msg}`) };
  const deps = { store: t.store, clock: t.clock, rollbackWindowMs: 60_000, lockTtlMs: 10_000, log };
  return { ...t, action, deps, log };
}

test('judging a local rollback: from live → record; to live → already; anything else → stale', () => {
  const action = { id: 'lrb_1', instance: 'web', from: { color: 'green' as const, version: '2.0.0' }, to: { color: 'blue' as const, version: '1.0.0' }, at: 1 };
  const live = (color: 'blue' | 'green', version: string) =>
    testInstance({ activeColor: color, currentVersion: version, slots: { blue: null, green: null, [color]: { version, status: 'live', deploymentId: 'd' } } });
  assert.equal(judgeLocalRollback(live('green', '2.0.0'), action), 'record');
  assert.equal(judgeLocalRollback(live('blue', '1.0.0'), action), 'already');
  assert.equal(judgeLocalRollback(live('blue', '3.0.0'), action), 'stale');
  assert.equal(judgeLocalRollback(live('green', '2.0.1'), action), 'stale');
  assert.equal(judgeLocalRollback(undefined, action), 'stale');
});

test('recorded exactly as a manual rollback, by machine:<name>, at the time of the flip; never flipped; acknowledged', async () => {
  const t = await rolledBackLocally();
  const flipsBefore = t.runtime.calls.filter((c) => c.startsWith('flip')).length;
  const outcomes = await reconcileLocalRollbacks(t.deps, MACHINE, t.runtime);
  const id = localRollbackDeploymentId(MACHINE, t.action);
  assert.deepEqual(outcomes, [{ id: t.action.id, instance: 'web', outcome: 'record', deployment: id }]);

  const d = (await t.store.getDeployment(id))!;
  assert.deepEqual(
    [d.kind, d.strategy, d.status, d.actor, d.fromVersion, d.fromColor, d.toVersion, d.toColor, d.finishedAt, d.createdAt],
    ['rollback', 'flip-to-warm', 'succeeded', 'machine:web-1', '1.1.0', 'green', '1.0.0', 'blue', t.action.at, t.action.at],
  );
  assert.deepEqual(d.steps.map((s) => [s.name, s.status]), [['flip', 'done'], ['finalise', 'done']]);
  assert.match(d.reason ?? '', new RegExp(`local rollback on machine web-1 at ${new Date(t.action.at).toISOString()}`));

  const instance = (await t.store.getInstance('web'))!;
  assert.equal(instance.activeColor, 'blue');
  assert.equal(instance.currentVersion, '1.0.0');
  assert.equal(instance.slots.blue?.status, 'live');
  assert.deepEqual(instance.slots.green, { ...instance.slots.green, version: '1.1.0', status: 'warm', warmUntil: t.action.at + 60_000 });

  const entries = await t.store.listAudit({ instance: 'web', actor: 'machine:web-1' });
  assert.deepEqual(entries.map((e) => e.action).sort(), ['rollback.start', 'rollback.succeeded']);
  const done = entries.find((e) => e.action === 'rollback.succeeded')!;
  assert.deepEqual([done.before, done.after], [{ version: '1.1.0', color: 'green' }, { version: '1.0.0', color: 'blue' }]);
  assert.equal((done.details.localRollback as { id: string }).id, t.action.id);

  assert.equal(t.runtime.calls.filter((c) => c.startsWith('flip')).length, flipsBefore, 'reconciling never flips');
  assert.deepEqual(t.runtime.acked, [[t.action.id]]);
  assert.deepEqual(await t.runtime.localRollbacks(), []);
  assert.equal(await t.store.getLock('web'), undefined, 'the lease is given back');
  // As after a manual rollback: a second one would go forward, so it is refused.
  await assert.rejects(t.deployer.rollback({ instance: 'web', by }), { code: 'ALREADY_ROLLED_BACK' });
});

test('records already showing the rollback (the server rolled back the same way): only acknowledged', async () => {
  const t = await rolledBackLocally();
  await t.run(t.deployer.rollback({ instance: 'web', by }));
  const deployments = (await t.store.listDeployments({ instance: 'web' })).length;
  assert.deepEqual((await reconcileLocalRollbacks(t.deps, MACHINE, t.runtime)).map((o) => o.outcome), ['already']);
  assert.equal((await t.store.listDeployments({ instance: 'web' })).length, deployments);
  assert.deepEqual(t.runtime.acked, [[t.action.id]]);
  assert.ok(t.log.lines.includes('info a local rollback the records already show; acknowledged'));
});

test('a stale local rollback (the records moved on, or the instance is gone) is acknowledged and logged, changing nothing', async () => {
  const t = await rolledBackLocally();
  t.runtime.pendingLocal.push({ ...t.action, id: 'lrb_old', from: { color: 'green', version: '0.9.0' } }, { ...t.action, id: 'lrb_gone', instance: 'deleted' });
  t.runtime.pendingLocal = t.runtime.pendingLocal.filter((a) => a.id !== t.action.id);
  const before = await t.store.getInstance('web');
  const outcomes = await reconcileLocalRollbacks(t.deps, MACHINE, t.runtime);
  assert.deepEqual(outcomes.map((o) => [o.id, o.outcome]), [['lrb_old', 'stale'], ['lrb_gone', 'stale']]);
  assert.deepEqual(await t.store.getInstance('web'), before);
  assert.deepEqual(await t.store.listAudit({ actor: 'machine:web-1' }), []);
  assert.deepEqual(t.runtime.acked, [['lrb_old', 'lrb_gone']]);
  assert.equal(t.log.lines.filter((l) => l.startsWith('warn')).length, 2);
});

test('a locked instance waits for the next round (not acknowledged, held from the watchers), then is recorded', async () => {
  const t = await rolledBackLocally();
  const now = t.clock.now();
  await t.store.acquireLock({ instance: 'web', owner: 'alice (dpl_x)', deploymentId: 'dpl_x', acquiredAt: now, expiresAt: now + 10_000 }, now);
  const reconciler = createLocalRollbackReconciler(t.deps, MACHINE, t.runtime);
  assert.equal(reconciler.holds('web'), true, 'held until a first round has read the report');
  assert.deepEqual((await reconciler.run()).map((o) => o.outcome), ['waiting']);
  assert.equal(reconciler.holds('web'), true);
  assert.equal(reconciler.holds('other'), false);
  assert.deepEqual(t.runtime.acked, []);
  assert.equal((await t.store.getInstance('web'))?.activeColor, 'green', 'nothing recorded under another holder');

  await t.store.releaseLock('web', 'alice (dpl_x)');
  assert.deepEqual((await reconciler.run()).map((o) => o.outcome), ['record']);
  assert.equal(reconciler.holds('web'), false);
  assert.equal((await t.store.getInstance('web'))?.activeColor, 'blue');
});

test('a round cut short after the deployment was written finishes without a second record', async () => {
  const t = await rolledBackLocally();
  // The first round wrote the deployment and its entries, then the server stopped before saving the instance.
  const records = localRollbackRecords((await t.store.getInstance('web'))!, t.action, MACHINE, t.clock.now(), 60_000);
  await t.store.insertDeployment(records.deployment);
  const outcomes = await reconcileLocalRollbacks(t.deps, MACHINE, t.runtime);
  assert.deepEqual(outcomes.map((o) => o.outcome), ['record']);
  assert.equal((await t.store.listDeployments({ instance: 'web', actor: 'machine:web-1' })).length, 1);
  assert.equal((await t.store.getInstance('web'))?.activeColor, 'blue');
});

test('recovery of a deployment whose server died after its flip, rolled back on the machine meanwhile, never flips forward', async () => {
  const TTL = 10_000;
  const t = await deployerTestbed({ lockTtlMs: TTL, holder: { serverId: 'srv_new', replica: null, pid: 2 } });
  await t.run(t.deployer.deploy({ instance: 'web', version: '1.0.0', by })); // blue 1.0.0 serves
  // A dead server's deployment of 1.1.0: started in green, flipped, not finalised.
  const now = t.clock.now();
  const d = {
    id: 'dpl_dead',
    instance: 'web',
    kind: 'deploy' as const,
    strategy: 'start-and-flip' as const,
    fromVersion: '1.0.0',
    toVersion: '1.1.0',
    fromColor: 'blue' as const,
    toColor: 'green' as const,
    status: 'running' as const,
    steps: (['prepare', 'start', 'health', 'flip', 'finalise'] as const).map((name) => ({ name, status: name === 'finalise' ? ('pending' as const) : ('done' as const) })),
    actor: 'a',
    app: 'shop',
    createdAt: now,
    updatedAt: now,
  };
  await t.store.insertDeployment(d);
  await t.store.acquireLock({ instance: 'web', owner: 'a (dpl_dead)', deploymentId: 'dpl_dead', acquiredAt: now, expiresAt: now + TTL, holder: { serverId: 'srv_dead', replica: null, pid: 3 }, heartbeatAt: now }, now);
  t.runtime.instances.get('web')!.slots.push({ color: 'green', version: '1.1.0', deploymentId: 'dpl_dead', state: 'healthy', port: 2 });
  await t.runtime.flip('web', 'green', '1.1.0');
  // The machine's operator rolls back while that server is gone.
  const action = await t.runtime.rollBackLocally('web');
  assert.deepEqual([action.from.version, action.to.version], ['1.1.0', '1.0.0']);
  const flipsAfterLocal = t.runtime.calls.length;

  // A server starts: recovery first (main.ts), then the reconciliation.
  t.clock.advance(TTL);
  assert.equal(await t.deployer.recover(), 1);
  assert.equal((await t.store.getDeployment('dpl_dead'))?.status, 'failed', 'the machine does not serve its slot: failed, not finished');
  assert.ok(!t.runtime.calls.slice(flipsAfterLocal).includes('flip web green'), 'recovery never flips to the release rolled back from');
  assert.equal(t.runtime.active('web'), 'blue');
  const outcomes = await reconcileLocalRollbacks({ store: t.store, clock: t.clock, rollbackWindowMs: 60_000, lockTtlMs: TTL }, MACHINE, t.runtime);
  assert.deepEqual(outcomes.map((o) => o.outcome), ['already'], 'the records show 1.0.0 on blue: only acknowledged');
  assert.equal((await t.store.getInstance('web'))?.currentVersion, '1.0.0');
  assert.equal(t.runtime.active('web'), 'blue');
});

test('a deploy or rollback from the server first records the local rollback, so it plans from what the machine serves', async () => {
  let settle: () => Promise<unknown> = async () => undefined;
  const t = await deployerTestbed({ settleLocal: () => settle().then(() => undefined) });
  const reconciler = createLocalRollbackReconciler({ store: t.store, clock: t.clock, rollbackWindowMs: 60_000, lockTtlMs: 10_000 }, MACHINE, t.runtime);
  settle = () => reconciler.run();
  await t.run(t.deployer.deploy({ instance: 'web', version: '1.0.0', by }));
  await t.run(t.deployer.deploy({ instance: 'web', version: '1.1.0', by }));
  await t.runtime.rollBackLocally('web'); // blue 1.0.0 serves; the record still says green 1.1.0

  // `cutover rollback` would otherwise record a second rollback of the same flip.
  await assert.rejects(t.deployer.rollback({ instance: 'web', by }), { code: 'ALREADY_ROLLED_BACK' });
  assert.equal((await t.store.listDeployments({ instance: 'web', limit: 1 }))[0]?.actor, 'machine:web-1');
  // A new release goes to the idle colour the machine really has (green), not into the serving blue.
  const d = await t.run(t.deployer.deploy({ instance: 'web', version: '1.2.0', by }));
  assert.deepEqual([d.status, d.fromColor, d.toColor, d.fromVersion], ['succeeded', 'blue', 'green', '1.0.0']);
  assert.equal(t.runtime.active('web'), 'green');
});
