// A deployment its replica left running, resumed by another replica from its last persisted step
// (ADR 0026): one test per step, with the fake runtime and a manual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { DeploymentRecord, LeaseHolder, LockRecord, StepName, StepRecord } from '../store/index.ts';
import { deployerTestbed } from './test-deployer.ts';
import { testActor, testReleaseSpec } from '../testing/index.ts';
import { normaliseRollout } from './rollout.ts';

const TTL = 10_000;
const ME: LeaseHolder = { serverId: 'srv_b', replica: 'b/127.0.0.1:7071', pid: 2 };
const DEAD: LeaseHolder = { serverId: 'srv_a', replica: 'a/127.0.0.1:7070', pid: 1 };
const TESTS = { smoke: { command: 'npm run smoke', timeoutMs: 60_000 }, verify: { command: 'npm run e2e', timeoutMs: 60_000 } };

/** `web` serving 1.0.0 on blue; 2.0.0 brings smoke and verify tests and a 60 s deploy timeout. `alive` answers `replicaAlive`. */
async function setup(alive: (serverId: string) => Promise<boolean | undefined> = async () => undefined) {
  const bed = await deployerTestbed({
    lockTtlMs: TTL,
    holder: ME,
    replicaAlive: alive,
    pollMs: 1000,
    // Pauses move the manual clock: a hold's remaining time is measured on it.
    sleep: async (ms) => {
      bed.clock.advance(ms);
      await tick();
    },
  });
  await bed.store.insertRelease({ app: 'shop', version: '2.0.0', digest: '2.0.0', spec: testReleaseSpec('2.0.0', { tests: TESTS, deployTimeoutMs: 60_000 }), createdAt: 1, createdBy: 'ci' });
  await bed.run(bed.deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }));
  bed.runtime.calls = [];
  bed.runtime.waitTimeouts = [];
  // What A's prepare had fetched onto the agent.
  bed.runtime.artifacts.add('sha256:2.0.0');
  return bed;
}

/**
 * A deployment of 2.0.0 to green that replica A left at step `at` (`running`, begun at `startedAt`),
 * with the steps of `names`; what it had done before is `done`.
 */
function leftAt(now: number, names: StepName[], at: StepName, startedAt: number, extra: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const k = names.indexOf(at);
  const steps: StepRecord[] = names.map((name, i) =>
    i < k ? { name, status: 'done', startedAt, finishedAt: startedAt } : i === k ? { name, status: 'running', startedAt } : { name, status: 'pending' },
  );
  return { id: 'dpl_a', instance: 'web', kind: 'deploy', strategy: 'start-and-flip', fromVersion: '1.0.0', toVersion: '2.0.0', fromColor: 'blue', toColor: 'green', status: 'running', steps, actor: 'a', app: 'shop', createdAt: startedAt, updatedAt: now, ...extra };
}

const leaseOf = (now: number, holder = DEAD): LockRecord => ({ instance: 'web', owner: 'a (dpl_a)', deploymentId: 'dpl_a', acquiredAt: now, expiresAt: now + TTL, holder, heartbeatAt: now });

type Bed = Awaited<ReturnType<typeof setup>>;

/** What A had started: green runs 2.0.0 for dpl_a (active when `serving`). */
function greenOfA(bed: Bed, serving = false) {
  const i = bed.runtime.instances.get('web')!;
  i.slots = i.slots.filter((s) => s.color !== 'green');
  i.slots.push({ color: 'green', version: '2.0.0', deploymentId: 'dpl_a', state: 'healthy', port: 4242, pid: 77 });
  if (serving) i.active = 'green';
}

/** Leaves `d` with A's lease, A known dead: B takes it at once. Resolves with the finished record. */
async function resumed(bed: Bed, d: DeploymentRecord): Promise<DeploymentRecord> {
  await bed.store.insertDeployment(d);
  await bed.store.acquireLock(leaseOf(bed.clock.now()), bed.clock.now());
  assert.equal(await bed.deployer.recover(), 1, 'taken over');
  return (await bed.deployer.wait(d.id, 5000))!;
}

const WITH_TESTS: StepName[] = ['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise'];

test('a holder known dead is taken over at once; one alive, or that cannot be told, only once its lease expired', async () => {
  let answer: boolean | undefined = true;
  const asked: string[] = [];
  const bed = await setup(async (id) => {
    asked.push(id);
    return answer;
  });
  const now = bed.clock.now();
  await bed.store.insertDeployment(leftAt(now, WITH_TESTS, 'health', now));
  await bed.store.acquireLock(leaseOf(now), now);
  greenOfA(bed);
  assert.equal(await bed.deployer.recover(), 0, 'alive');
  answer = undefined;
  assert.equal(await bed.deployer.recover(), 0, 'cannot tell');
  assert.deepEqual(asked, ['srv_a', 'srv_a']);
  answer = false;
  assert.equal(await bed.deployer.recover(), 1, 'dead');
  const d = (await bed.deployer.wait('dpl_a', 5000))!;
  assert.equal(d.status, 'succeeded');
  const [entry] = await bed.store.listAudit({ action: 'deploy.resumed' });
  assert.deepEqual(entry!.details, { deployment: 'dpl_a', step: 'health', why: 'holder dead', by: ME.replica, from: DEAD.replica });
  assert.equal(entry!.actor, 'a', 'by the deployment’s own actor');
});

test('start: a slot the dead replica started is kept, not started again', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'start', now));
  assert.equal(d.status, 'succeeded');
  assert.equal(bed.runtime.started.length, 1, 'only the first deployment’s start');
  assert.ok(!bed.runtime.calls.includes('stop web green'), 'its own slot is never stopped');
  const start = d.steps.find((s) => s.name === 'start')!;
  assert.deepEqual([start.detail?.port, start.detail?.pid, start.detail?.kept], [4242, 77, true]);
  assert.equal(start.startedAt, now, 'its first start is kept');
  assert.equal(start.detail?.resumedBy, ME.replica);
});

test('start: a start that never reached the agent is sent again, with the same deployment (the agent’s key)', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'start', now));
  assert.equal(d.status, 'succeeded');
  assert.equal(bed.runtime.started.at(-1)?.deploymentId, 'dpl_a');
  assert.equal(bed.runtime.active('web'), 'green');
});

test('prepare: resumed before the start, it starts the slot as a first run would', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'prepare', now));
  assert.equal(d.status, 'succeeded');
  assert.deepEqual(bed.runtime.calls.filter((c) => /^(stop|start)/.test(c)), ['stop web green', 'start web green 2.0.0']);
});

test('health: the wait continues with what is left of the deploy timeout', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  const d = leftAt(now, WITH_TESTS, 'health', now - 45_000);
  assert.equal((await resumed(bed, d)).status, 'succeeded');
  assert.deepEqual(bed.runtime.waitTimeouts, [15_000], '60 s less the 45 s already waited');
});

test('health: past its deadline it still gets one check, not the whole timeout again', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  bed.runtime.health.set('2.0.0', { ok: false, reason: 'timeout', message: 'no healthy answer', logTail: [] });
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'health', now - 90_000));
  assert.equal(d.status, 'failed');
  assert.deepEqual(bed.runtime.waitTimeouts, [1000]);
  assert.match(d.error!.message, /did not become healthy/);
  assert.ok(bed.runtime.calls.includes('stop web green'), 'its own slot stops');
  assert.equal(bed.runtime.active('web'), 'blue');
});

test('smoke: the result of the test still running on the agent is collected; the preview its replica opened is kept, then closed', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'smoke', now));
  assert.equal(d.status, 'succeeded');
  const smoke = bed.runtime.tests.find((t) => t.kind === 'smoke')!;
  assert.deepEqual([smoke.deploymentId, smoke.previewToken], ['dpl_a', ''], 'the same key; no new token that would shut the running test out');
  assert.deepEqual(bed.runtime.calls.filter((c) => /^(preview|test|flip)/.test(c)), ['test web smoke', 'preview web off', 'flip web green', 'test web verify']);
  assert.equal(d.steps.find((s) => s.name === 'smoke')!.detail?.passed, true);
});

test('shift: a hold keeps its remaining time, and the weights are set again', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  const rollout = normaliseRollout({ steps: [25, 100], pauseMs: 60_000 });
  const d = leftAt(now, ['prepare', 'start', 'health', 'shift-25', 'flip', 'finalise'], 'shift-25', now - 40_000, { rollout });
  const resumedAt = bed.clock.now();
  let flippedAt = 0;
  const flip = bed.runtime.flip.bind(bed.runtime);
  bed.runtime.flip = async (...args) => {
    flippedAt = bed.clock.now();
    return flip(...args);
  };
  const done = await resumed(bed, d);
  assert.equal(done.status, 'succeeded');
  assert.ok(bed.runtime.calls.includes('shift web green 25'));
  const held = flippedAt - resumedAt;
  assert.ok(held >= 20_000 && held <= 21_000, `held ${held} ms after the resume: the 20 s left of 60 s`);
  assert.ok(Number(done.steps.find((s) => s.name === 'shift-25')!.detail?.heldMs) >= 60_000);
});

test('flip: re-sent to the colour already active changes nothing; verify and finalise follow', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed, true);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'flip', now));
  assert.equal(d.status, 'succeeded');
  assert.deepEqual(bed.runtime.calls.filter((c) => /^(flip|test|stop)/.test(c)), ['flip web green', 'test web verify']);
  assert.ok(bed.runtime.instances.get('web')!.slots.some((s) => s.color === 'blue'), 'the warm slot stays');
  const web = (await bed.store.getInstance('web'))!;
  assert.deepEqual([web.currentVersion, web.activeColor, web.slots.blue?.status], ['2.0.0', 'green', 'warm']);
});

test('flip: not reached yet, it is sent as a first run would', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'flip', now));
  assert.equal(d.status, 'succeeded');
  assert.equal(bed.runtime.active('web'), 'green');
});

test('verify: the test’s result is collected by its key, the first start of the step kept', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed, true);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'verify', now - 5000));
  assert.equal(d.status, 'succeeded');
  assert.ok(!bed.runtime.calls.includes('cancelTest web'), 'the test is not killed');
  assert.deepEqual(bed.runtime.tests.map((t) => [t.kind, t.deploymentId, t.previewToken]), [['verify', 'dpl_a', '']]);
  const verify = d.steps.find((s) => s.name === 'verify')!;
  assert.equal(verify.startedAt, now - 5000);
  assert.equal(verify.detail?.resumedBy, ME.replica);
  assert.equal((await bed.store.getInstance('web'))!.currentVersion, '2.0.0');
});

test('verify: a failing result collected after the resume flips users back to the warm slot', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed, true);
  bed.runtime.testOutcome.set('verify', { exitCode: 1, output: 'broken' });
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'verify', now));
  assert.equal(d.status, 'failed');
  assert.equal(bed.runtime.active('web'), 'blue');
  assert.equal((await bed.store.getInstance('web'))!.currentVersion, '1.0.0');
});

test('finalise: resumed, it records the new release as current, the old slot warm', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed, true);
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'finalise', now));
  assert.equal(d.status, 'succeeded');
  assert.deepEqual(bed.runtime.calls.filter((c) => /^(flip|test|stop|start)/.test(c)), [], 'nothing on the runtime again');
  const web = (await bed.store.getInstance('web'))!;
  assert.deepEqual([web.currentVersion, web.activeColor, web.slots.blue?.status, web.slots.green?.deploymentId], ['2.0.0', 'green', 'warm', 'dpl_a']);
  assert.equal((await bed.store.listAudit({ action: 'deploy.succeeded' }))[0]!.details.deployment, 'dpl_a');
});

test('after the flip, users put back on the old colour meanwhile: failed, nothing touched', async () => {
  const bed = await setup(async () => false);
  const now = bed.clock.now();
  greenOfA(bed); // blue serves again (a local rollback)
  const d = await resumed(bed, leftAt(now, WITH_TESTS, 'verify', now));
  assert.equal(d.status, 'failed');
  assert.match(d.error!.message, /holder dead.*2\.0\.0 no longer serves after its flip/);
  assert.deepEqual(bed.runtime.calls.filter((c) => /^(flip|stop)/.test(c)), []);
});
