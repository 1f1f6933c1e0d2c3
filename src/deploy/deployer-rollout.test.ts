import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { ManualClock } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import type { DeploymentRecord } from '../store/index.ts';
import type { Analysis } from './analysis.ts';
import type { ReleaseProblem } from './step-runners.ts';
import { createDeployer } from './deployer.ts';
import { FakeRuntime, testInstance, testReleaseSpec, waitFor, testActor } from '../testing/index.ts';
import { normaliseRollout } from './rollout.ts';
import type { RuntimeColorStats } from './runtime.ts';

const spec = (version: string) => testReleaseSpec(version, version === '1.1.0' ? { drain: { path: '/drain' } } : {});

/** Deployers of the test running now: any deployment left holding is aborted after it. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A deployer on the memory store and the fake runtime, whose pauses move a manual clock. */
async function setup() {
  const store = createMemoryStore();
  const runtime = new FakeRuntime();
  const clock = new ManualClock(1_000_000);
  runtime.now = () => clock.now();
  for (const v of ['1.0.0', '1.1.0']) {
    await store.insertRelease({ app: 'shop', version: v, digest: v, spec: spec(v), createdAt: 1, createdBy: 'ci' });
  }
  await store.insertInstance(testInstance());
  const failures: ReleaseProblem[] = [];
  const deployer = createDeployer({
    store,
    runtime,
    clock,
    openArtifact: () => Readable.from([]),
    rollbackWindowMs: 60_000,
    lockTtlMs: 10_000,
    pollMs: 1000,
    sleep: async (ms) => {
      clock.advance(ms);
      await tick();
    },
    analysisThresholds: { minRequests: 100, minBaselineRequests: 50 },
    fileProblem: async (_d, problem) => {
      failures.push(problem);
    },
  });
  cleanups.push(async () => {
    for (const d of await store.listDeployments({ status: 'running' })) {
      await deployer.abort(d.id, testActor('test')).catch(() => undefined);
      await deployer.wait(d.id, 5000);
    }
  });
  const first = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') });
  await deployer.wait(first.id, 5000);
  runtime.calls = [];
  /**
   * Waits until the deployment's record satisfies `ok`, checking at every turn of the event loop:
   * the fake `sleep` above advances the clock at each turn too, so a pause cannot run out unseen.
   */
  const until = (id: string, ok: (d: DeploymentRecord) => boolean): Promise<DeploymentRecord> =>
    waitFor(
      async () => `deployment ${id} to reach the expected state: ${JSON.stringify(await store.getDeployment(id))}`,
      async () => {
        const d = await store.getDeployment(id);
        return d && ok(d) ? d : undefined;
      },
      { intervalMs: 0 },
    );
  return { store, runtime, clock, deployer, failures, until };
}

const at = (name: string) => (d: DeploymentRecord) => d.steps.some((s) => s.name === name && s.status === 'running');

/** Router counters of one colour: `ok` 2xx and `errors` 5xx answers, all fast. */
function colorStats(color: Color, deploymentId: string | null, ok: number, errors: number): RuntimeColorStats {
  return {
    color,
    version: color === 'blue' ? '1.0.0' : '1.1.0',
    deploymentId,
    since: '2026-01-01T00:00:00.000Z',
    requests: ok + errors,
    responses: { '2xx': ok, '5xx': errors },
    latency: { bucketsMs: [10, 50], counts: [ok + errors, 0, 0] },
  };
}

test('normaliseRollout drops the final 100 and names each problem', () => {
  assert.deepEqual(normaliseRollout({ steps: [10, 50, 100], pauseMs: 60_000 }), { steps: [10, 50], pauseMs: 60_000, analysis: false });
  assert.deepEqual(normaliseRollout({ steps: [0], pauseMs: null, analysis: true }), { steps: [0], pauseMs: null, analysis: true });
  for (const steps of [[50, 10], [10, 10], [101], [-1], [1.5], [100], []]) {
    assert.throws(
      () => normaliseRollout({ steps, pauseMs: 1000 }),
      (e: { code: string; details: { issues: unknown[] } }) => e.code === 'VALIDATION_FAILED' && e.details.issues.length > 0,
      `steps ${JSON.stringify(steps)}`,
    );
  }
  assert.throws(() => normaliseRollout({ steps: [10], pauseMs: -5 }), /pause/);
});

test('weighted steps shift, hold for the pause, then flip', async () => {
  const { store, runtime, deployer } = await setup();
  const rollout = normaliseRollout({ steps: [10, 50, 100], pauseMs: 30_000 });
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  assert.deepEqual(
    started.steps.map((s) => s.name),
    ['prepare', 'start', 'health', 'shift-10', 'shift-50', 'flip', 'finalise'],
  );
  const done = (await deployer.wait(started.id, 5000))!;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(
    runtime.calls.filter((c) => /^(shift|flip)/.test(c)),
    ['shift web green 10', 'shift web green 50', 'flip web green'],
  );
  const held = done.steps.find((s) => s.name === 'shift-10')!.detail!;
  assert.equal(held.percent, 10);
  assert.ok((held.heldMs as number) >= 30_000, `held ${String(held.heldMs)} ms`);
  const start = (await store.listAudit({ action: 'deploy.start' }))[0]!;
  assert.match(String(start.details.rollout), /10% → 50% → 100%, 30s pause/);
  assert.ok(runtime.calls.includes('start web green 1.1.0'));
});

test('a manual pause holds until resumed, and resume is refused when nothing holds', async () => {
  const { runtime, deployer, until } = await setup();
  const rollout = normaliseRollout({ steps: [0, 100], pauseMs: null });
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  const holding = await until(started.id, at('shift-0'));
  assert.equal(holding.steps.find((s) => s.name === 'shift-0')?.detail?.holding, 'until resumed');
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(!runtime.calls.some((c) => c.startsWith('shift')), 'step 0 sends no client over: preview only');
  await deployer.resume(started.id, testActor('alice'));
  const done = (await deployer.wait(started.id, 5000))!;
  assert.equal(done.status, 'succeeded');
  assert.equal(done.steps.find((s) => s.name === 'shift-0')?.detail?.resumed, true);
  assert.equal(runtime.active('web'), 'green');
  await assert.rejects(deployer.resume(started.id, testActor('alice')), { code: 'DEPLOYMENT_NOT_RUNNING' });
  await assert.rejects(deployer.abort(started.id, testActor('alice')), { code: 'DEPLOYMENT_NOT_RUNNING' });
});

test('abort during a step puts everyone back on the old colour and stops the new slot', async () => {
  const { store, runtime, deployer, until } = await setup();
  const rollout = normaliseRollout({ steps: [25, 100], pauseMs: null });
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  await until(started.id, at('shift-25'));
  assert.deepEqual(runtime.instances.get('web')?.shift, { color: 'green', percent: 25 });
  await deployer.abort(started.id, testActor('alice', 'checkout looks off'));
  const done = (await deployer.wait(started.id, 5000))!;
  assert.equal(done.status, 'aborted');
  assert.equal(done.error?.code, 'DEPLOYMENT_ABORTED');
  assert.deepEqual(done.abort, { at: done.abort!.at, actor: 'alice', reason: 'checkout looks off' });
  assert.equal(runtime.active('web'), 'blue');
  assert.equal(runtime.instances.get('web')?.shift, undefined);
  assert.ok(runtime.calls.includes('stop web green'));
  const web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.0.0');
  assert.equal(web.slots.green, null);
  assert.equal((await store.listAudit({ action: 'deploy.aborted' })).length, 1);
  assert.equal((await store.listAudit({ action: 'deployment.abort' }))[0]?.actor, 'alice');
  assert.equal(await store.getLock('web'), undefined);
});

test('abort while the new slot is starting stops it before any client sees it', async () => {
  const { runtime, deployer, until } = await setup();
  let open!: () => void;
  runtime.gate = new Promise((resolve) => (open = resolve));
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  await until(started.id, at('health'));
  await deployer.abort(started.id, testActor('alice'));
  const done = (await deployer.wait(started.id, 5000))!;
  open();
  assert.equal(done.status, 'aborted');
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(runtime.calls.includes('stop web green'));
  assert.ok(!runtime.calls.some((c) => c.startsWith('flip')));
});

/** Counters before the step, then (once the step holds) the traffic of the step on top. */
async function trafficDuringStep(
  ctx: Awaited<ReturnType<typeof setup>>,
  id: string,
  green: { ok: number; errors: number },
): Promise<void> {
  const stats = (g: { ok: number; errors: number }, blueOk: number) => ({
    instance: 'web',
    at: '2026-01-01T00:00:00.000Z',
    active: 'blue' as const,
    colors: [colorStats('blue', 'd1', blueOk, 0), colorStats('green', id, g.ok, g.errors)],
  });
  ctx.runtime.counters.set('web', stats({ ok: 0, errors: 0 }, 5000));
  await ctx.until(id, at('shift-10'));
  ctx.runtime.counters.set('web', stats(green, 5900));
}

test('a step whose analysis fails aborts the cutover, files the failure and audits the snapshot', async () => {
  const ctx = await setup();
  const { store, runtime, deployer, failures } = ctx;
  const rollout = normaliseRollout({ steps: [10, 100], pauseMs: 60_000, analysis: true });
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  await trafficDuringStep(ctx, started.id, { ok: 80, errors: 40 });
  const done = (await deployer.wait(started.id, 5000))!;
  assert.equal(done.status, 'failed');
  assert.equal(done.error?.code, 'ANALYSIS_FAILED');
  assert.match(done.error?.message ?? '', /10%/);
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(runtime.calls.includes('stop web green'));
  assert.equal(failures.length, 1);
  assert.match(failures[0]?.title ?? '', /^Cutover aborted on web: /);
  const entry = (await store.listAudit({ action: 'deploy.failed' }))[0]!;
  const snapshot = (entry.details.analysis as Analysis).snapshot;
  assert.equal(snapshot.candidate.requests, 120, 'the step window only');
  assert.equal(snapshot.baseline?.requests, 900, 'the old colour over the same window');
});

test('a step whose analysis passes goes on after the pause', async () => {
  const ctx = await setup();
  const rollout = normaliseRollout({ steps: [10, 100], pauseMs: 60_000, analysis: true });
  const started = await ctx.deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  await trafficDuringStep(ctx, started.id, { ok: 150, errors: 0 });
  const done = (await ctx.deployer.wait(started.id, 5000))!;
  assert.equal(done.status, 'succeeded');
  const detail = done.steps.find((s) => s.name === 'shift-10')?.detail;
  assert.equal((detail?.analysis as { verdict: string }).verdict, 'pass');
  assert.ok((detail?.heldMs as number) >= 60_000);
});

test('too little traffic is never a pass: the step waits for resume after three pauses', async () => {
  const ctx = await setup();
  const { runtime, deployer, until } = ctx;
  const rollout = normaliseRollout({ steps: [10, 100], pauseMs: 60_000, analysis: true });
  const started = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout });
  await trafficDuringStep(ctx, started.id, { ok: 5, errors: 0 });
  const waiting = await until(started.id, (d) => d.steps.find((s) => s.name === 'shift-10')?.detail?.holding === 'until resumed');
  const detail = waiting.steps.find((s) => s.name === 'shift-10')?.detail;
  assert.match(String(detail?.why), /inconclusive/);
  assert.equal(runtime.active('web'), 'blue');
  await deployer.resume(started.id, testActor('alice'));
  assert.equal((await deployer.wait(started.id, 5000))?.status, 'succeeded');
});

test('a gradual cutover needs a colour serving already; the refusal changes nothing', async () => {
  const { store, deployer } = await setup();
  await store.saveInstanceState({ ...(await store.getInstance('web'))!, activeColor: null, currentVersion: null });
  const before = await store.listDeployments();
  await assert.rejects(
    deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin'), rollout: normaliseRollout({ steps: [10], pauseMs: 0 }) }),
    (e: { code: string; message: string }) => e.code === 'VALIDATION_FAILED' && /without --steps/.test(e.message),
  );
  assert.deepEqual(await store.listDeployments(), before);
});

test('the release drain endpoint reaches the runtime', async () => {
  const { runtime, deployer } = await setup();
  const done = (await deployer.wait((await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') })).id, 5000))!;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(runtime.started.at(-1)?.drain, { path: '/drain' });
  assert.equal(runtime.started[0]?.drain, undefined);
});
