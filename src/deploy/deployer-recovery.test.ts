import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ManualClock } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import type { DeploymentRecord, LeaseHolder, LockRecord } from '../store/index.ts';
import { createDeployer } from './deployer.ts';
import { deployerTestbed } from './test-deployer.ts';
import { FakeRuntime, testInstance, testReleaseSpec, testActor } from '../testing/index.ts';

const TTL = 10_000;
const ME: LeaseHolder = { serverId: 'srv_new', replica: 'host/127.0.0.1:7070', pid: 2 };

async function setup() {
  const bed = await deployerTestbed({ lockTtlMs: TTL, holder: ME });
  await bed.run(bed.deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') })); // blue 1.0.0 serves
  return bed;
}

/** A deployment of 1.1.0 to green that a dead (or live) server left at its health step. */
function leftRunning(id: string, now: number, flipped = false): DeploymentRecord {
  return {
    id,
    instance: 'web',
    kind: 'deploy',
    strategy: 'start-and-flip',
    fromVersion: '1.0.0',
    toVersion: '1.1.0',
    fromColor: 'blue',
    toColor: 'green',
    status: 'running',
    steps: (['prepare', 'start', 'health', 'flip', 'finalise'] as const).map((name) => ({
      name,
      status: flipped ? (name === 'finalise' ? 'pending' : 'done') : name === 'health' ? 'running' : ['prepare', 'start'].includes(name) ? 'done' : 'pending',
    })),
    actor: 'a',
    app: 'shop',
    createdAt: now,
    updatedAt: now,
  };
}

const lease = (id: string, now: number, holder?: LeaseHolder): LockRecord => ({
  instance: 'web',
  owner: `a (${id})`,
  deploymentId: id,
  acquiredAt: now,
  expiresAt: now + TTL,
  ...(holder ? { holder, heartbeatAt: now } : {}),
});

/** What the other server had started: green runs 1.1.0 for deployment `id`. */
function greenSlot(runtime: FakeRuntime, version: string, deploymentId: string) {
  const i = runtime.instances.get('web')!;
  i.slots = i.slots.filter((s) => s.color !== 'green');
  i.slots.push({ color: 'green', version, deploymentId, state: 'healthy', port: 2 });
}

test("a replica's start leaves a live peer's deployment alone (M1)", async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_peer', now));
  await store.acquireLock(lease('dpl_peer', now, { serverId: 'srv_peer', replica: 'host/127.0.0.1:7071', pid: 3 }), now);
  greenSlot(runtime, '1.1.0', 'dpl_peer');
  assert.equal(await deployer.recover(), 0);
  assert.equal((await store.getDeployment('dpl_peer'))!.status, 'running');
  assert.ok(runtime.instances.get('web')!.slots.some((s) => s.color === 'green'), 'the peer’s new slot keeps running');
  assert.equal((await store.getLock('web'))!.holder?.serverId, 'srv_peer');
});

test('a deployment of this replica’s previous incarnation is resumed at once, its own slot kept', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_old', now));
  await store.acquireLock(lease('dpl_old', now, { ...ME, serverId: 'srv_old' }), now);
  greenSlot(runtime, '1.1.0', 'dpl_old');
  const starts = runtime.started.length;
  assert.equal(await deployer.recover(), 1);
  await deployer.idle();
  const d = (await store.getDeployment('dpl_old'))!;
  assert.equal(d.status, 'succeeded');
  assert.equal(runtime.started.length, starts, 'its slot is not started again');
  assert.equal(runtime.active('web'), 'green');
  assert.equal(await store.getLock('web'), undefined);
  const [resumed] = await store.listAudit({ action: 'deploy.resumed' });
  assert.deepEqual(resumed!.details, { deployment: 'dpl_old', step: 'health', why: 'previous incarnation', by: ME.replica, from: ME.replica });
});

test('a deployment whose new slot is gone is failed, touching no slot (the serving one above all)', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_gone', now));
  await store.acquireLock(lease('dpl_gone', now, { ...ME, serverId: 'srv_old' }), now);
  const stops = runtime.calls.filter((c) => c.startsWith('stop')).length;
  assert.equal(await deployer.recover(), 1);
  const d = (await store.getDeployment('dpl_gone'))!;
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /previous incarnation.*cannot be resumed: the agent no longer runs the green slot it started/);
  assert.equal(runtime.calls.filter((c) => c.startsWith('stop')).length, stops, 'nothing is stopped');
  assert.equal(runtime.active('web'), 'blue');
  assert.equal(await store.getLock('web'), undefined);
  const [failed] = await store.listAudit({ action: 'deploy.failed' });
  assert.deepEqual(failed!.after, { version: '1.0.0', color: 'blue' }, 'after: where the instance was left');
  assert.deepEqual(failed!.details.attempted, { version: '1.1.0', color: 'green' });
});

test('a deployment whose release was deleted is failed, and only its own slot is stopped', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  // The store keeps no release 9.9.9 (removed behind Cutover's back: releases are never deleted through it).
  await store.insertDeployment({ ...leftRunning('dpl_deleted', now), toVersion: '9.9.9' });
  await store.acquireLock(lease('dpl_deleted', now, { ...ME, serverId: 'srv_old' }), now);
  greenSlot(runtime, '9.9.9', 'dpl_deleted');
  assert.equal(await deployer.recover(), 1);
  const d = (await store.getDeployment('dpl_deleted'))!;
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /its release 9\.9\.9 was deleted/);
  assert.ok(!runtime.instances.get('web')!.slots.some((s) => s.color === 'green'), 'its own slot is stopped');
  assert.ok(runtime.instances.get('web')!.slots.some((s) => s.color === 'blue'), 'the serving one is not');
  assert.equal(runtime.active('web'), 'blue');
});

test('a deployment whose lease expired and that users already see is finished', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_flipped', now, true));
  await store.acquireLock(lease('dpl_flipped', now, { serverId: 'srv_peer', replica: null, pid: 3 }), now);
  greenSlot(runtime, '1.1.0', 'dpl_flipped');
  runtime.instances.get('web')!.active = 'green';
  assert.equal(await deployer.recover(), 0, 'not before the lease expires');
  clock.advance(TTL);
  assert.equal(await deployer.recover(), 1);
  await deployer.idle();
  assert.equal((await store.getDeployment('dpl_flipped'))!.status, 'succeeded');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.1.0');
});

test('H3: the active colour running another deployment’s release never finishes a stale one', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  // dpl_stale (1.1.0 → green) lost its server; later green was reused by dpl_next for 1.2.0, which serves.
  await store.insertDeployment(leftRunning('dpl_stale', now));
  await store.acquireLock(lease('dpl_stale', now, { serverId: 'srv_dead', replica: null, pid: 3 }), now);
  clock.advance(TTL);
  greenSlot(runtime, '1.1.0', 'dpl_next'); // same colour and version, another deployment
  runtime.instances.get('web')!.active = 'green';
  assert.equal(await deployer.recover(), 1);
  const d = (await store.getDeployment('dpl_stale'))!;
  assert.equal(d.status, 'failed');
  assert.ok(runtime.instances.get('web')!.slots.some((s) => s.color === 'green'), 'a slot that is not its own is left alone');
  assert.equal(runtime.active('web'), 'green');
  assert.equal((await store.listAudit({ action: 'deploy.succeeded' })).filter((e) => e.details.deployment === 'dpl_stale').length, 0);
});

test('a deployment its agent could not be asked about is not taken over; a new deployment supersedes it in the same transaction (H3)', async () => {
  const { store, runtime, clock, deployer, run } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_stale', now));
  await store.acquireLock(lease('dpl_stale', now, { serverId: 'srv_dead', replica: null, pid: 3 }), now);
  greenSlot(runtime, '1.1.0', 'dpl_stale');
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.2.0', by: testActor('b') }), (e: { code: string }) => e.code === 'INSTANCE_LOCKED');
  clock.advance(TTL);
  // The agent cannot be asked: the stale deployment is not resumed (its lease stays as it was), and the new one takes it.
  runtime.failNext.set('describe', new Error('agent unreachable'));
  const next = await run(deployer.deploy({ instance: 'web', version: '1.2.0', by: testActor('b') }));
  assert.equal(next.status, 'succeeded');
  const stale = (await store.getDeployment('dpl_stale'))!;
  assert.equal(stale.status, 'failed');
  assert.match(stale.error!.message, /superseded, lease expired/);
  assert.equal((await store.listDeployments({ status: 'running' })).length, 0);
  assert.equal(await deployer.recover(), 0);
  assert.equal(runtime.active('web'), 'green');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.2.0');
  const succeeded = await store.listAudit({ action: 'deploy.succeeded' });
  assert.deepEqual(succeeded.map((e) => e.version), ['1.2.0', '1.0.0']);
});

test('a deployment without a lease and with steps left is failed, never resumed: a newer one may have run since (H3)', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_stale', now));
  greenSlot(runtime, '1.1.0', 'dpl_stale');
  assert.equal(await deployer.recover(), 0, 'its server may be between releasing the lease and recording the end');
  clock.advance(TTL);
  assert.equal(await deployer.recover(), 1);
  const stale = (await store.getDeployment('dpl_stale'))!;
  assert.equal(stale.status, 'failed');
  assert.match(stale.error!.message, /no lease.*cannot be resumed: its lease was given up before step health ended/);
  assert.equal(runtime.active('web'), 'blue');
});

test('the agent not answering leaves a dead replica’s lease as it was; the next pass resumes the deployment', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_wait', now));
  await store.acquireLock(lease('dpl_wait', now, { serverId: 'srv_dead', replica: null, pid: 3 }), now);
  greenSlot(runtime, '1.1.0', 'dpl_wait');
  clock.advance(TTL);
  runtime.failNext.set('describe', new Error('agent unreachable'));
  assert.equal(await deployer.recover(), 0);
  assert.equal((await store.getLock('web'))!.holder?.serverId, 'srv_dead', 'not taken, not released');
  assert.equal(await deployer.recover(), 1);
  assert.equal((await deployer.wait('dpl_wait', 5000))!.status, 'succeeded');
});

test('a deploy resumes the expired deployment of its instance first, and is refused while it runs', async () => {
  const { store, runtime, clock, deployer } = await setup();
  const now = clock.now();
  await store.insertDeployment(leftRunning('dpl_stale', now));
  await store.acquireLock(lease('dpl_stale', now, { serverId: 'srv_dead', replica: null, pid: 3 }), now);
  greenSlot(runtime, '1.1.0', 'dpl_stale');
  clock.advance(TTL);
  let open!: () => void;
  runtime.gate = new Promise<void>((resolve) => (open = resolve));
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.2.0', by: testActor('b') }), (e: { code: string; details: { deploymentId: string } }) => e.code === 'INSTANCE_LOCKED' && e.details.deploymentId === 'dpl_stale');
  open();
  assert.equal((await deployer.wait('dpl_stale', 5000))!.status, 'succeeded');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.1.0');
});

test('a running deployment whose lease was taken stops acting and leaves the slots to the new holder', async () => {
  const { store, runtime, clock, deployer } = await setup();
  let open!: () => void;
  runtime.gate = new Promise<void>((resolve) => (open = resolve));
  const d = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('a') });
  while (!runtime.calls.includes('wait web green')) await new Promise((r) => setImmediate(r));
  // Its server hangs past the lease (no heartbeat lands); another deployment takes the instance.
  clock.advance(TTL + 1);
  const other: LockRecord = { ...lease('dpl_other', clock.now(), { serverId: 'srv_peer', replica: null, pid: 3 }), owner: 'b (dpl_other)' };
  const taken = await store.acquireLock(other, clock.now());
  assert.equal(taken.ok, true);
  open();
  const settled = (await deployer.wait(d.id, 5000))!;
  assert.equal(settled.status, 'failed');
  assert.match(settled.error!.message, /lease lost/);
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(runtime.calls.lastIndexOf('stop web green') < runtime.calls.indexOf('start web green 1.1.0'), 'the new slot is not stopped by the loser');
  assert.equal((await store.listAudit({ action: 'deploy.failed' })).length, 1);
  assert.equal((await store.getLock('web'))!.deploymentId, 'dpl_other');
});

test('the heartbeat renews the lease during a long health wait, so a peer never sees it expire (M1)', async () => {
  const store = createMemoryStore();
  const runtime = new FakeRuntime();
  const clock = new ManualClock(1_000_000);
  runtime.now = () => clock.now();
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: '1', spec: testReleaseSpec('1.0.0'), createdAt: 1, createdBy: 'ci' });
  await store.insertInstance(testInstance());
  // A 900 ms lease: the heartbeat runs every 300 ms of real time.
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 900, holder: ME });
  let open!: () => void;
  runtime.gate = new Promise<void>((resolve) => (open = resolve));
  const d = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') });
  while (!runtime.calls.includes('wait web blue')) await new Promise((r) => setImmediate(r));
  const peer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 900, holder: { serverId: 'srv_peer', replica: null, pid: 3 } });
  for (let i = 0; i < 3; i++) {
    clock.advance(600); // past the lease taken at the start, unless renewed meanwhile
    const at = clock.now();
    for (;;) {
      const lock = await store.getLock('web');
      if (lock?.heartbeatAt === at) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await peer.recover(), 0, 'a live deployment is never recovered');
  }
  open();
  assert.equal((await deployer.wait(d.id, 5000))!.status, 'succeeded');
});
