import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ManualClock, silentLogger } from '../shared/index.ts';
import { createMemoryStore, verifyAuditChain } from '../store/index.ts';
import type { Store } from '../store/index.ts';
import { createDeployer, pendingConfigOf } from '../deploy/index.ts';
import { FakeRuntime, testReleaseSpec } from '../testing/index.ts';
import type { Deployer } from '../deploy/index.ts';
import { createInstance, createInstanceSchema, ensureBuiltInChannels, promote, resumeRollout, updateChannel, updateFleetPolicy } from '../control/index.ts';
import type { Actor } from '../shared/index.ts';
import { createScheduler } from './scheduler.ts';

const DAY = 86_400_000;
const ADMIN: Actor = { actor: 'admin', role: 'admin', requestId: null };

async function setup(instances: Array<[string, string]>) {
  const store = createMemoryStore();
  const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
  await ensureBuiltInChannels({ store, clock });
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    await store.insertRelease({ app: 'shop', version: v, digest: v, spec: testReleaseSpec(v), createdAt: 1, createdBy: 'ci' });
  }
  for (const [name, environment] of instances) {
    await createInstance({ store, clock }, createInstanceSchema.parse({ name, app: 'shop', hosts: [`${name}.test`], environment, target: { channel: 'release' } }), ADMIN);
  }
  await updateFleetPolicy({ store, clock }, { policy: { waves: [{ environment: 'test', minSuccesses: 1 }, { environment: 'production' }], failureBudget: { maxFailures: 1 } } }, ADMIN);
  const scheduler = (owner: string) => createScheduler({ store, deployer, runtime, clock, log: silentLogger, intervalMs: 1000, owner });
  return { store, clock, runtime, deployer, scheduler };
}

const versions = async (store: Store, deployer: Deployer) => {
  await deployer.idle();
  return Object.fromEntries((await store.listInstances()).map((i) => [i.name, i.currentVersion]));
};

test('only the replica holding the lease acts; the other takes over once it is released', async () => {
  const { store, clock, deployer, scheduler } = await setup([['t1', 'test']]);
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  const a = scheduler('replica-a');
  const b = scheduler('replica-b');
  const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
  assert.deepEqual([ra.leader, rb.leader].sort(), [false, true], 'exactly one leader');
  assert.equal(ra.started.length + rb.started.length, 1, 'the upgrade is started once');
  assert.deepEqual(await versions(store, deployer), { t1: '1.0.0' });
  const leader = ra.leader ? a : b;
  const follower = ra.leader ? b : a;
  assert.equal((await follower.tick()).leader, false);
  await leader.stop();
  assert.equal((await follower.tick()).leader, true, 'a released lease is taken by the other replica');
  await follower.stop();
});

test('a version failing on the test wave halts at the budget, files a problem, never reaches production; resume restarts the count', async () => {
  const { store, clock, runtime, deployer, scheduler } = await setup([
    ['t1', 'test'],
    ['t2', 'test'],
    ['p1', 'production'],
  ]);
  const s = scheduler('one');
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  await s.tick();
  await deployer.idle();
  await s.tick(); // the production wave follows once the test wave succeeded
  assert.deepEqual(await versions(store, deployer), { p1: '1.0.0', t1: '1.0.0', t2: '1.0.0' });

  runtime.health.set('1.1.0', { ok: false, reason: 'unhealthy', message: 'GET /healthz answered 500', logTail: [] });
  await promote({ store, clock }, { version: '1.1.0', force: false }, 'release', ADMIN);
  const first = await s.tick();
  assert.deepEqual(first.started.map((x) => x.instance).sort(), ['t1', 't2']);
  assert.deepEqual(await versions(store, deployer), { p1: '1.0.0', t1: '1.0.0', t2: '1.0.0' }, 'failed upgrades leave the old release');
  const second = await s.tick();
  assert.deepEqual(second.halted.map((h) => h.version), ['1.1.0']);
  assert.deepEqual(second.started, []);
  const [problem] = await store.listProblems({ version: '1.1.0' });
  assert.equal(problem?.source, 'scheduler');
  assert.equal(problem?.status, 'open');
  assert.equal((await store.listHalts({ active: true }))[0]?.problemId, problem?.id);
  clock.advance(DAY);
  assert.deepEqual((await s.tick()).started, [], 'halted: nothing more, a day later');
  assert.equal((await versions(store, deployer)).p1, '1.0.0');

  // Fixed (the fake now answers healthy) and resumed: the count starts again and the rollout goes on.
  runtime.health.delete('1.1.0');
  await resumeRollout({ store, clock }, { version: '1.1.0', reason: 'config fixed' }, ADMIN);
  const resumed = await s.tick();
  assert.deepEqual(resumed.started.map((x) => x.instance).sort(), ['t1', 't2']);
  await deployer.idle();
  await s.tick();
  assert.deepEqual(await versions(store, deployer), { p1: '1.1.0', t1: '1.1.0', t2: '1.1.0' });
  assert.ok(verifyAuditChain(await store.readAuditChain(0, 10_000), await store.auditHead()).ok);
  await s.stop();
});

test('automatic promotion: stable follows release after the soak, audited as the scheduler; a disabled policy does nothing', async () => {
  const { store, clock, deployer, scheduler } = await setup([['p1', 'production']]);
  await updateChannel({ store, clock }, 'stable', { policy: { autoPromote: true } }, ADMIN);
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'p2', app: 'shop', hosts: ['p2.test'], environment: 'production', target: { channel: 'stable' } }), ADMIN);
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  const s = scheduler('one');
  assert.deepEqual((await s.tick()).promoted, [], 'not soaked yet');
  clock.advance(14 * DAY);
  const tick = await s.tick();
  assert.deepEqual(tick.promoted, [{ app: 'shop', channel: 'stable', version: '1.0.0' }]);
  assert.ok(tick.started.some((x) => x.instance === 'p2'), 'instances following stable upgrade in the same pass');
  const [entry] = await store.listAudit({ action: 'channel.promote', subject: 'stable' });
  assert.equal(entry?.actor, 'scheduler');
  await deployer.idle();

  await updateFleetPolicy({ store, clock }, { policy: { enabled: false } }, ADMIN);
  await promote({ store, clock }, { version: '1.1.0', force: false }, 'release', ADMIN);
  const off = await s.tick();
  assert.equal(off.enabled, false);
  assert.deepEqual(off.started, []);
  assert.equal((await versions(store, deployer)).p1, '1.0.0');
  await s.stop();
});

test('when the agent does not answer, no upgrade starts and nothing counts against the budget', async () => {
  const { store, clock, runtime, deployer, scheduler } = await setup([['t1', 'test'], ['t2', 'test']]);
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  const s = scheduler('one');
  // The agent is away: every question about an instance fails (each due upgrade's machine is asked).
  const describe = runtime.describe.bind(runtime);
  runtime.describe = () => Promise.reject(new Error('cannot reach the agent (ECONNREFUSED)'));
  for (let i = 0; i < 3; i++) {
    const tick = await s.tick();
    assert.match(tick.agentUnreachable ?? '', /ECONNREFUSED/);
    assert.deepEqual(tick.started, []);
    clock.advance(60_000);
  }
  assert.deepEqual(await store.listDeployments(), [], 'no deployment recorded while the agent was away');
  runtime.describe = describe;
  const back = await s.tick();
  assert.equal(back.agentUnreachable, undefined);
  assert.equal(back.started.length, 2);
  await deployer.idle();
  await s.stop();
});

test('fleet upgrades run the release tests: smoke, then verify after the flip, and a failing test counts toward the failure budget', async () => {
  const { store, clock, runtime, deployer, scheduler } = await setup([
    ['t1', 'test'],
    ['t2', 'test'],
    ['p1', 'production'],
  ]);
  const tests = { smoke: { command: 'npm run smoke', timeoutMs: 60_000 }, verify: { command: 'npm run e2e', timeoutMs: 60_000 } };
  await store.insertRelease({ app: 'shop', version: '2.0.0', digest: '2.0.0', spec: testReleaseSpec('2.0.0', { tests }), createdAt: 1, createdBy: 'ci' });
  const s = scheduler('one');
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  await s.tick();
  await deployer.idle();
  await s.tick();
  assert.deepEqual(await versions(store, deployer), { p1: '1.0.0', t1: '1.0.0', t2: '1.0.0' });

  // Healthy, but its verify test fails: every test-wave upgrade is rolled back to the warm slot.
  runtime.testOutcome.set('verify', { exitCode: 1, output: 'checkout broken' });
  await promote({ store, clock }, { version: '2.0.0', force: false }, 'release', ADMIN);
  const first = await s.tick();
  assert.deepEqual(first.started.map((x) => x.instance).sort(), ['t1', 't2']);
  assert.deepEqual(await versions(store, deployer), { p1: '1.0.0', t1: '1.0.0', t2: '1.0.0' });
  assert.deepEqual(runtime.tests.map((t) => `${t.instance} ${t.kind}`).sort(), ['t1 smoke', 't1 verify', 't2 smoke', 't2 verify']);
  const failed = await store.listDeployments({ status: 'failed' });
  assert.deepEqual(failed.map((d) => [d.error?.code, d.rollback?.strategy]), [['TEST_FAILED', 'flip-to-warm'], ['TEST_FAILED', 'flip-to-warm']]);
  const second = await s.tick();
  assert.deepEqual(second.halted.map((h) => h.version), ['2.0.0'], 'the test failures spent the budget');
  assert.deepEqual(second.started, []);
  assert.equal((await versions(store, deployer)).p1, '1.0.0', 'production never saw it');
  await s.stop();
});

test('applyAppConfig: an instance on its release whose app config changed is deployed again with it in its window, once; off, it waits', async () => {
  const store = createMemoryStore();
  const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  // App config as the deployer sees it: one version number and digest for every instance, changed by the test.
  let config = { version: 1, digest: 'cfg-1' };
  const appConfig = {
    current: async () => config,
    requireKeys: async () => undefined,
    slotEnv: async (_i: string, spec: { env: Record<string, string> }, version: number) => ({ ...spec.env, CONFIG_VERSION: String(version) }),
  };
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000, appConfig });
  await ensureBuiltInChannels({ store, clock });
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: '1.0.0', spec: testReleaseSpec('1.0.0'), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'p1', app: 'shop', hosts: ['p1.test'], environment: 'production', target: { channel: 'release' } }), ADMIN);
  await promote({ store, clock }, { version: '1.0.0', force: false }, 'release', ADMIN);
  const scheduler = createScheduler({ store, deployer, runtime, clock, log: silentLogger, intervalMs: 1000, owner: 'a', pendingConfig: (instances) => pendingConfigOf(appConfig, instances) });
  assert.equal((await scheduler.tick()).started.length, 1, 'the release first');
  await deployer.idle();
  assert.equal((await scheduler.tick()).started.length, 0, 'nothing pending');

  config = { version: 2, digest: 'cfg-2' };
  assert.equal((await scheduler.tick()).started.length, 0, 'the policy does not apply config: it waits for deploy --app-config-only');
  await updateFleetPolicy({ store, clock }, { policy: { applyAppConfig: true } }, ADMIN);
  const applied = await scheduler.tick();
  assert.equal(applied.started.length, 1, JSON.stringify(applied));
  await deployer.idle();
  const [last] = await store.listDeployments({ instance: 'p1', limit: 1 });
  assert.equal(last?.status, 'succeeded');
  assert.equal(last?.toVersion, '1.0.0', 'the same release');
  assert.equal(last?.configVersion, 2, 'with the new config');
  assert.equal(runtime.instances.get('p1')!.slots.find((s) => s.color === runtime.instances.get('p1')!.active)?.version, '1.0.0');
  assert.equal((await scheduler.tick()).started.length, 0, 'applied once');
  await scheduler.stop();
});
