// The deployer over several machines (issue 18): the runtime fans out to every machine of the
// instance (`createMachineRuntime` over one FakeRuntime per machine), the flip is a barrier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeRuntime, testActor, testReleaseSpec } from '../testing/index.ts';
import { createMachineRuntime } from './machine-runtime.ts';
import { deployerTestbed } from './test-deployer.ts';

/** A FakeRuntime whose flips can be made silent (never acknowledged) for a while. */
class Machine extends FakeRuntime {
  silent = false;
  readonly name: string;
  private readonly journal: string[];
  constructor(name: string, journal: string[]) {
    super();
    this.name = name;
    this.journal = journal;
  }
  override flip(...args: Parameters<FakeRuntime['flip']>) {
    this.journal.push(`${this.name} flip ${args[1]}`);
    return this.silent ? new Promise<never>(() => undefined) : super.flip(...args);
  }
  override startSlot(...args: Parameters<FakeRuntime['startSlot']>) {
    this.journal.push(`${this.name} start ${args[0].version}`);
    return super.startSlot(...args);
  }
}

async function threeMachines(options: Parameters<typeof deployerTestbed>[0] = {}) {
  const journal: string[] = [];
  const machines = new Map(['web-1', 'web-2', 'web-3'].map((m) => [m, new Machine(m, journal)]));
  const connected = new Set(machines.keys());
  const runtime = createMachineRuntime({
    machinesOf: async () => [...machines.keys()],
    runtimeOf: (m) => (connected.has(m) ? machines.get(m) : undefined),
    connected: () => [...connected],
    flipTimeoutMs: 100,
  });
  const bed = await deployerTestbed({ runtime, ...options });
  const active = () => [...machines.values()].map((m) => m.active('web'));
  return { ...bed, machines, connected, active, journal, m: (name: string) => machines.get(name)! };
}

test('a deployment on three machines starts and checks the release on each, then flips all of them', async () => {
  const { deployer, run, active, m } = await threeMachines();
  const d = await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
  assert.deepEqual(d.machines, { placed: ['web-1', 'web-2', 'web-3'], skipped: [], unconfirmed: [], pending: [] });
  assert.deepEqual(active(), ['blue', 'blue', 'blue']);
  const flip = d.steps.find((s) => s.name === 'flip')!;
  assert.deepEqual(Object.keys(flip.detail?.flips as object).sort(), ['web-1', 'web-2', 'web-3'], 'when each machine flipped');
  // Each machine did start, health, then flip: no flip before every machine was healthy.
  for (const name of ['web-1', 'web-2', 'web-3']) assert.deepEqual(m(name).calls.filter((c) => /^(start|wait|flip)/.test(c)), ['start web blue 1.0.0', 'wait web blue', 'flip web blue']);
});

test('one machine unhealthy: no machine flips, the new slots stop everywhere, the old release keeps serving', async () => {
  const { deployer, run, active, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-2').health.set('1.1.0', { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /on machine web-2: the health check failed/);
  assert.deepEqual(active(), ['blue', 'blue', 'blue']);
  assert.ok([...['web-1', 'web-2', 'web-3']].every((name) => !m(name).calls.includes('flip web green')), 'nobody flipped');
});

test('a machine that does not acknowledge the flip: unconfirmed, the deployment ends partial and says so', async () => {
  const { deployer, run, store, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-3').silent = true;
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  assert.equal(d.status, 'partial');
  assert.deepEqual(d.machines?.unconfirmed, ['web-3']);
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.1.0', 'the records say what the confirmed machines serve');
  assert.deepEqual([m('web-1').active('web'), m('web-2').active('web')], ['green', 'green']);
  const [entry] = await store.listAudit({ action: 'deploy.partial' });
  assert.deepEqual((entry?.details as { machines: { unconfirmed: string[] } }).machines.unconfirmed, ['web-3']);
});

test('forward deployments fail at once naming unreachable machines; --skip-unreachable deploys to the others (partial)', async () => {
  const { deployer, run, connected, store } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  connected.delete('web-2');
  const before = await store.listDeployments();
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'AGENT_UNREACHABLE');
    assert.match(e.message, /machine web-2 of instance "web" is not connected.*--skip-unreachable/);
    return true;
  });
  assert.equal((await store.listDeployments()).length, before.length, 'nothing recorded');
  assert.equal(await store.getLock('web'), undefined, 'the lease is given back');
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), skipUnreachable: true }));
  assert.equal(d.status, 'partial');
  assert.deepEqual(d.machines?.skipped, ['web-2']);
});

test('a rollback with one machine unreachable flips the others at once and records it pending', async () => {
  const { deployer, run, connected, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  connected.delete('web-3');
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('admin', 'bad') }));
  assert.equal(back.status, 'partial');
  assert.deepEqual(back.machines?.skipped, ['web-3']);
  assert.deepEqual([m('web-1').active('web'), m('web-2').active('web'), m('web-3').active('web')], ['blue', 'blue', 'green'], 'web-3 converges when back');
});

test('converge brings a machine that missed the flip to the live release, and one that joined to the live and warm ones', async () => {
  const { deployer, run, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-3').silent = true;
  await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  m('web-3').silent = false;
  assert.equal(m('web-3').active('web'), 'blue');
  const lagging = await deployer.converge('web', 'web-3');
  assert.deepEqual(lagging, { outcome: 'done', steps: [{ kind: 'flip', color: 'green', version: '1.1.0' }] }, 'it holds 1.1.0 already: only the flip');
  assert.equal(m('web-3').active('web'), 'green');
  assert.deepEqual(await deployer.converge('web', 'web-3'), { outcome: 'none' }, 'nothing more to do');

  await m('web-2').removeInstance('web'); // as a machine that just joined
  const joined = await deployer.converge('web', 'web-2');
  assert.equal(joined.outcome, 'done');
  const calls = m('web-2').calls.filter((c) => /^(start|wait|flip)/.test(c)).slice(-5);
  assert.deepEqual(calls, ['start web green 1.1.0', 'wait web green', 'flip web green', 'start web blue 1.0.0', 'wait web blue'], 'the live release first, checked, flipped to; then the warm one');
  assert.equal(m('web-2').active('web'), 'green');
  assert.deepEqual(
    (await m('web-2').describe('web'))!.slots.map((s) => [s.color, s.version]).sort(),
    [['blue', '1.0.0'], ['green', '1.1.0']],
    'the warm release too, so a rollback can flip to it',
  );
});

test('converge waits while a deployment holds the instance', async () => {
  const { deployer, store, clock, run, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  await m('web-1').removeInstance('web'); // it has something to do
  await store.acquireLock({ instance: 'web', owner: 'someone (dpl_x)', deploymentId: 'dpl_x', acquiredAt: clock.now(), expiresAt: clock.now() + 60_000 }, clock.now());
  assert.deepEqual(await deployer.converge('web', 'web-1'), { outcome: 'busy' });
  const calls = m('web-1').calls;
  assert.deepEqual(calls.slice(calls.indexOf('remove web') + 1), [], 'nothing started while the deployment holds it');
});

test('--rolling: batch by batch (start, health, flip), each batch waiting for the one before', async () => {
  const { deployer, run, active, journal } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  journal.length = 0;
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rolling: { maxUnavailable: 2 } }));
  assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
  assert.deepEqual(d.rolling, { maxUnavailable: 2, batches: [['web-1', 'web-2'], ['web-3']] });
  assert.deepEqual(d.steps.map((s) => s.name), ['prepare', 'batch-1', 'batch-2', 'finalise']);
  assert.deepEqual(active(), ['green', 'green', 'green']);
  // web-3 started only after web-1 and web-2 had flipped.
  assert.deepEqual(journal, ['web-1 start 1.1.0', 'web-2 start 1.1.0', 'web-1 flip green', 'web-2 flip green', 'web-3 start 1.1.0', 'web-3 flip green']);
});

test('--rolling: a failing batch stops the rollout and flips the done machines back; later batches never start', async () => {
  const { deployer, run, active, m, store } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-2').health.set('1.1.0', { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rolling: { maxUnavailable: 1 } }));
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /on machine web-2: the health check failed/);
  assert.deepEqual(active(), ['blue', 'blue', 'blue'], 'web-1 flipped in batch 1 and went back');
  assert.ok(m('web-1').calls.includes('flip web green'), 'web-1 had flipped');
  assert.ok(!m('web-3').calls.includes('start web green 1.1.0'), 'batch 3 never started');
  assert.equal(d.rollback?.toVersion, '1.0.0');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.0.0');
});

test('--rolling --max-failures 1: a machine failing within the budget stays on the old release, the rollout goes on, the deployment ends partial', async () => {
  const { deployer, run, active, m, store } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-2').health.set('1.1.0', { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rolling: { maxUnavailable: 1, maxFailures: 1 } }));
  assert.equal(d.status, 'partial', JSON.stringify(d.error));
  assert.deepEqual(d.machines?.failed, ['web-2']);
  assert.deepEqual(d.rolling?.maxFailures, 1);
  assert.deepEqual(active(), ['green', 'blue', 'green'], 'web-2 stays on the old release; web-3 was rolled after it');
  assert.ok(m('web-2').calls.includes('stop web green'), "web-2's new slot was stopped");
  assert.ok(!m('web-2').calls.includes('flip web green'), 'web-2 never flipped');
  const batch2 = d.steps.find((s) => s.name === 'batch-2')!;
  assert.match(JSON.stringify(batch2.detail), /on machine web-2: the health check failed/);
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.1.0');
});

test('--rolling --max-failures 1: the second failure stops the rollout and flips every machine back', async () => {
  const { deployer, run, active, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  for (const name of ['web-1', 'web-3']) m(name).health.set('1.1.0', { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rolling: { maxUnavailable: 1, maxFailures: 1 } }));
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /batch 3: on machine web-3: the health check failed \(2 failed, budget 1\)/);
  assert.deepEqual(active(), ['blue', 'blue', 'blue'], 'web-2 flipped in batch 2 and went back');
});

test('--rolling --max-failures as many as the machines is refused before anything changes', async () => {
  const { deployer, active } = await threeMachines();
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin'), rolling: { maxUnavailable: 1, maxFailures: 3 } }), /--max-failures 3 would let every machine.*give fewer than 3/);
  assert.deepEqual(active(), [null, null, null]);
});

test('--rolling resumed by another replica in batch 2: a machine running its slot keeps it, the wait gets what is left of the deploy timeout; the batches left run', async () => {
  const me = { serverId: 'srv_b', replica: 'b', pid: 2 };
  const dead = { serverId: 'srv_a', replica: 'a', pid: 1 };
  const { deployer, run, active, m, store, clock } = await threeMachines({ holder: me, replicaAlive: async () => false });
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  await store.insertRelease({ app: 'shop', version: '2.0.0', digest: '2.0.0', spec: testReleaseSpec('2.0.0', { deployTimeoutMs: 60_000 }), createdAt: 1, createdBy: 'ci' });
  for (const name of ['web-1', 'web-2', 'web-3']) m(name).artifacts.add('sha256:2.0.0');
  // Replica A had rolled web-1 (batch 1) and started web-2 (batch 2) 10 s ago, then died.
  const startedAt = clock.now() - 10_000;
  await m('web-1').startSlot({ instance: 'web', color: 'green', version: '2.0.0', deploymentId: 'dpl_a', digest: 'sha256:2.0.0', start: 'x', env: {}, health: { path: '/', intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1 }, stopTimeoutMs: 1000 } as never);
  await m('web-1').flip('web', 'green');
  await m('web-2').startSlot({ instance: 'web', color: 'green', version: '2.0.0', deploymentId: 'dpl_a', digest: 'sha256:2.0.0', start: 'x', env: {}, health: { path: '/', intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1 }, stopTimeoutMs: 1000 } as never);
  for (const name of ['web-1', 'web-2', 'web-3']) m(name).calls = [];
  const steps = [
    { name: 'prepare', status: 'done', startedAt, finishedAt: startedAt },
    { name: 'batch-1', status: 'done', startedAt, finishedAt: startedAt },
    { name: 'batch-2', status: 'running', startedAt },
    { name: 'batch-3', status: 'pending' },
    { name: 'finalise', status: 'pending' },
  ] as const;
  const placed = ['web-1', 'web-2', 'web-3'];
  await store.insertDeployment({
    id: 'dpl_a', instance: 'web', kind: 'deploy', strategy: 'start-and-flip', fromVersion: '1.0.0', toVersion: '2.0.0', fromColor: 'blue', toColor: 'green', status: 'running',
    steps: steps.map((x) => ({ ...x })), actor: 'a', app: 'shop', createdAt: startedAt, updatedAt: startedAt,
    machines: { placed, skipped: [], unconfirmed: [], pending: [] }, rolling: { maxUnavailable: 1, batches: placed.map((x) => [x]) },
  });
  const now = clock.now();
  await store.acquireLock({ instance: 'web', owner: 'a (dpl_a)', deploymentId: 'dpl_a', acquiredAt: now, expiresAt: now + 10_000, holder: dead, heartbeatAt: now }, now);
  assert.equal(await deployer.recover(), 1, 'taken over at once: its replica is dead');
  const d = (await deployer.wait('dpl_a', 5000))!;
  assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
  assert.ok(!m('web-2').calls.some((c) => c.startsWith('start')), `web-2 kept the slot A started: ${m('web-2').calls.join(', ')}`);
  assert.ok(m('web-3').calls.includes('start web green 2.0.0'), 'batch 3 ran');
  const waited = m('web-2').waitTimeouts.at(-1)!;
  assert.equal(waited, 50_000, 'web-2 waits what is left of the 60 s deploy timeout, 10 s of it gone');
  assert.equal(m('web-3').waitTimeouts.at(-1), 60_000, 'batch 3 gets all of it');
  assert.deepEqual(active(), ['green', 'green', 'green']);
});

test('--rolling with --steps, or on an instance not on machines, is refused before anything changes', async () => {
  const { deployer, run } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  await assert.rejects(
    deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rolling: { maxUnavailable: 1 }, rollout: { steps: [50], pauseMs: 0, analysis: false } }),
    /--rolling goes machine by machine; --steps shifts traffic on every machine at once/,
  );
  const single = await deployerTestbed();
  await assert.rejects(single.deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin'), rolling: { maxUnavailable: 1 } }), /--rolling needs an instance on several/);
});

test('a machine entering the placement during a deployment is left out of it (convergence brings it after)', async () => {
  const { deployer, run, machines, connected, m } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  // web-1's health check waits until web-4 has joined the placement.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const web1 = m('web-1');
  const wait = web1.waitHealthy.bind(web1);
  web1.waitHealthy = async (...args) => {
    await gate;
    return wait(...args);
  };
  const started = deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  const id = (await started).id;
  const journal: string[] = [];
  machines.set('web-4', new Machine('web-4', journal));
  connected.add('web-4');
  release();
  const d = (await deployer.wait(id, 5000))!;
  assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
  assert.deepEqual(d.machines?.placed, ['web-1', 'web-2', 'web-3']);
  assert.deepEqual(journal, [], 'web-4 saw nothing of the deployment');
  assert.equal((await deployer.converge('web', 'web-4')).outcome, 'done', 'then convergence brings it to the live release');
  assert.equal(m('web-4').active('web'), 'green');
});

test('verify runs once, on a machine that confirmed the flip, and the step names it', async () => {
  const { deployer, run, store, m } = await threeMachines();
  const tests = { smoke: { command: 'true', timeoutMs: 60_000 }, verify: { command: 'true', timeoutMs: 60_000 } };
  await store.insertRelease({ app: 'shop', version: '2.0.0', digest: '2.0.0', spec: testReleaseSpec('2.0.0', { tests }), createdAt: 1, createdBy: 'ci' });
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  m('web-1').silent = true; // web-1 does not confirm the flip: verify must not run there
  const d = await run(deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') }));
  assert.equal(d.status, 'partial', JSON.stringify(d.error));
  const verify = d.steps.find((s) => s.name === 'verify')!;
  assert.equal(verify.status, 'done');
  assert.equal(verify.detail?.machine, 'web-2');
  const ran = ['web-1', 'web-2', 'web-3'].map((name) => m(name).calls.filter((c) => c.startsWith('test web')));
  assert.deepEqual(ran, [['test web smoke'], ['test web verify'], []], 'each test once: smoke on the first machine, verify on the first that confirmed');
});

test('a deployment waits for a convergence that holds the instance (a flip or a warm start), instead of failing INSTANCE_LOCKED', async () => {
  const { deployer, run, store, clock } = await threeMachines();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  const owner = 'converge:web-2 (cnv_test)';
  await store.acquireLock({ instance: 'web', owner, deploymentId: 'cnv_test', acquiredAt: clock.now(), expiresAt: clock.now() + 60_000 }, clock.now());
  setTimeout(() => void store.releaseLock('web', owner), 300);
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
  // Any other holder still refuses at once.
  await store.acquireLock({ instance: 'web', owner: 'alice (dpl_other)', deploymentId: 'dpl_other', acquiredAt: clock.now(), expiresAt: clock.now() + 60_000 }, clock.now());
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.2.0', by: testActor('admin') }), /INSTANCE_LOCKED|is locked by alice/);
});

test('a start resumed on another replica keeps the slots every machine runs, and is sent again when one machine lacks it', async () => {
  for (const lacking of [undefined, 'web-2']) {
    const { store, clock, deployer, run, journal, m, machines } = await threeMachines();
    await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
    const now = clock.now();
    const names = ['prepare', 'start', 'health', 'flip', 'finalise'] as const;
    await store.insertDeployment({
      id: 'dpl_dead', instance: 'web', kind: 'deploy', strategy: 'start-and-flip', fromVersion: '1.0.0', toVersion: '1.1.0', fromColor: 'blue', toColor: 'green', status: 'running',
      steps: names.map((name, i) => (i < 1 ? { name, status: 'done' } : i === 1 ? { name, status: 'running', startedAt: now } : { name, status: 'pending' })),
      machines: { placed: ['web-1', 'web-2', 'web-3'], skipped: [], unconfirmed: [], pending: [] },
      actor: 'a', app: 'shop', createdAt: now, updatedAt: now,
    });
    const lock = { instance: 'web', owner: 'a (dpl_dead)', deploymentId: 'dpl_dead', acquiredAt: now, expiresAt: now + 10_000, holder: { serverId: 'srv_dead', replica: null, pid: 3 }, heartbeatAt: now };
    await store.acquireLock(lock, now);
    for (const [name, machine] of machines) {
      machine.artifacts.add('sha256:1.1.0');
      if (name !== lacking) machine.instances.get('web')!.slots.push({ color: 'green', version: '1.1.0', deploymentId: 'dpl_dead', state: 'healthy', port: 7 });
    }
    journal.length = 0;
    clock.advance(10_000);
    assert.equal(await deployer.recover(), 1);
    const d = (await deployer.wait('dpl_dead', 5000))!;
    assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
    const starts = journal.filter((j) => j.includes(' start '));
    assert.deepEqual(starts, lacking ? ['web-1 start 1.1.0', 'web-2 start 1.1.0', 'web-3 start 1.1.0'] : [], lacking ? 'sent again to every machine (each agent answers a repeat it remembers)' : 'kept');
    assert.equal(m('web-1').active('web'), 'green');
  }
});
