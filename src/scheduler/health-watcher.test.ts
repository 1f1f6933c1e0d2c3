import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ManualClock, silentLogger } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { createDeployer } from '../deploy/index.ts';
import { FakeRuntime, testReleaseSpec, testActor } from '../testing/index.ts';
import type { Deployer } from '../deploy/index.ts';
import { createInstance, createInstanceSchema } from '../control/index.ts';
import type { Actor } from '../shared/index.ts';
import { createHealthWatcher } from './health-watcher.ts';
import { createLostInstanceHandler, RECOVERY_ACTOR } from './lost-instance.ts';
import type { HealthWatcherOptions } from './health-watcher.ts';
import { createBakeWatcher } from './bake-watcher.ts';
import { createRollbackGuard } from './rollback-guard.ts';

const ADMIN: Actor = { actor: 'admin', role: 'admin', requestId: null };

/** `web` on 1.1.0 (active) with 1.0.0 warm in the other colour, as after a real deployment. */
async function setup(options: Partial<HealthWatcherOptions> = {}) {
  const store = createMemoryStore();
  const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
  for (const v of ['1.0.0', '1.1.0']) await store.insertRelease({ app: 'shop', version: v, digest: v, spec: testReleaseSpec(v), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'web', app: 'shop', hosts: ['web.test'] }), ADMIN);
  for (const version of ['1.0.0', '1.1.0']) {
    const d = await deployer.deploy({ instance: 'web', version, by: testActor('admin') });
    assert.equal((await deployer.wait(d.id, 1000))?.status, 'succeeded');
  }
  const watcher = createHealthWatcher({ store, deployer, runtime, clock, log: silentLogger, intervalMs: 1000, rollbackOnUnhealthy: true, owner: 'a', ...options });
  const active = (await store.getInstance('web'))!.activeColor!;
  const setState = (color: Color, state: string) => {
    const slot = runtime.instances.get('web')!.slots.find((s) => s.color === color)!;
    slot.state = state;
  };
  const audit = async (action: string) => store.listAudit({ action });
  const pass = async () => {
    clock.advance(1000);
    const out = await watcher.check();
    await deployer.idle();
    return out;
  };
  return { store, clock, runtime, deployer, watcher, active, other: (active === 'blue' ? 'green' : 'blue') as Color, setState, audit, pass };
}

test('an unhealthy active slot is reported once per episode; back to healthy ends it', async () => {
  const { watcher, active, setState, audit, pass } = await setup({ rollbackOnUnhealthy: false });
  assert.deepEqual(await pass(), [], 'healthy: nothing to say');
  setState(active, 'unhealthy');
  assert.equal((await pass())[0]?.action, 'reported');
  assert.equal((await pass())[0]?.action, 'watching');
  setState(active, 'restarting');
  assert.equal((await pass())[0]?.action, 'watching', 'still the same episode');
  const [reported] = await audit('slot.unhealthy');
  assert.equal((await audit('slot.unhealthy')).length, 1);
  assert.equal(reported?.actor, 'health');
  assert.equal(reported?.version, '1.1.0');
  assert.deepEqual(
    { color: reported?.details.color, version: reported?.details.version, state: reported?.details.state, other: reported?.details.other },
    { color: active, version: '1.1.0', state: 'unhealthy', other: { color: active === 'blue' ? 'green' : 'blue', version: '1.0.0', state: 'healthy' } },
  );
  setState(active, 'healthy');
  assert.equal((await pass())[0]?.action, 'recovered');
  assert.equal((await audit('slot.recovered')).length, 1);
  setState(active, 'unhealthy');
  await pass();
  assert.equal((await audit('slot.unhealthy')).length, 2, 'a new episode is reported again');
  assert.equal((await audit('health.rollback')).length, 0, 'rollbackOnUnhealthy off: reported only');
  await watcher.stop();
});

test('two consecutive unhealthy passes roll back to the warm slot, file a problem and audit it; one is not enough', async () => {
  const { store, runtime, watcher, active, other, setState, audit, pass } = await setup();
  setState(active, 'unhealthy');
  assert.equal((await pass())[0]?.action, 'reported');
  assert.equal(runtime.active('web'), active, 'one observation: no rollback yet');
  assert.equal((await pass())[0]?.action, 'rolled-back');
  assert.equal(runtime.active('web'), other);
  const instance = (await store.getInstance('web'))!;
  assert.equal(instance.currentVersion, '1.0.0');
  const rollbacks = await store.listDeployments({ instance: 'web', limit: 1 });
  assert.equal(rollbacks[0]?.kind, 'rollback');
  assert.equal(rollbacks[0]?.actor, 'health');
  assert.match(rollbacks[0]?.reason ?? '', /^the active slot of 1\.1\.0 is unhealthy: /);
  const problems = await store.listProblems({ version: '1.1.0' });
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.source, 'health');
  const [entry] = await audit('health.rollback');
  assert.equal(entry?.details.rollback, rollbacks[0]?.id);
  assert.equal(entry?.details.problem, problems[0]?.id);
  assert.deepEqual(entry?.details.other, { color: other, version: '1.0.0', state: 'healthy' });
  // 1.1.0 stays unhealthy in the now-warm slot; 1.0.0 serves healthy: nothing more happens.
  assert.deepEqual(await pass(), []);
  assert.equal((await audit('health.rollback')).length, 1);
  await watcher.stop();
});

test('an unhealthy pass followed by a healthy one does nothing; a failed slot acts at once', async () => {
  const { runtime, watcher, active, other, setState, audit, pass } = await setup();
  setState(active, 'unhealthy');
  await pass();
  setState(active, 'healthy');
  await pass();
  setState(active, 'unhealthy');
  await pass();
  assert.equal(runtime.active('web'), active, 'never two unhealthy passes in a row');
  assert.equal((await audit('health.rollback')).length, 0);
  setState(active, 'exited');
  assert.equal((await pass())[0]?.action, 'rolled-back', 'exited acts on the first sighting of that state');
  assert.equal(runtime.active('web'), other);
  await watcher.stop();
});

test('without a warm slot, or with an unhealthy one, it only reports', async () => {
  const a = await setup();
  const instance = (await a.store.getInstance('web'))!;
  a.clock.advance(120_000); // the rollback window (60 s) is over: the other slot is no longer warm
  a.setState(a.active, 'failed');
  await a.pass();
  await a.pass();
  assert.equal(a.runtime.active('web'), instance.activeColor);
  assert.equal((await a.audit('slot.unhealthy')).length, 1);
  assert.equal((await a.audit('health.rollback')).length, 0);
  await a.watcher.stop();

  const b = await setup();
  b.setState(b.active, 'unhealthy');
  b.setState(b.other, 'unhealthy');
  await b.pass();
  await b.pass();
  assert.equal(b.runtime.active('web'), b.active, 'the warm slot is not healthy: no flip to it');
  assert.equal((await b.audit('health.rollback')).length, 0);
  await b.watcher.stop();
});

test('an instance with a deployment running is skipped; only the lease holder acts', async () => {
  const { store, clock, runtime, deployer, watcher, active, setState, audit, pass } = await setup();
  setState(active, 'unhealthy');
  const now = clock.now();
  await store.acquireLock({ instance: 'web', owner: 'someone', deploymentId: 'dpl_x', acquiredAt: now, expiresAt: now + 600_000 }, now);
  assert.deepEqual(await pass(), []);
  assert.deepEqual(await pass(), []);
  assert.equal((await audit('slot.unhealthy')).length, 0);
  await store.releaseLock('web', 'someone');

  const follower = createHealthWatcher({ store, deployer, runtime, clock, log: silentLogger, intervalMs: 1000, rollbackOnUnhealthy: true, owner: 'b' });
  await pass(); // a reports
  assert.deepEqual(await follower.check(), [], 'b does not hold the lease');
  await watcher.stop(); // a gives the lease up; b takes over and knows the episode from the audit log
  clock.advance(1000);
  assert.equal((await follower.check())[0]?.action, 'watching');
  assert.equal((await audit('slot.unhealthy')).length, 1, 'not reported twice by the new leader');
  clock.advance(1000);
  assert.equal((await follower.check())[0]?.action, 'rolled-back');
  await deployer.idle();
  assert.equal((await audit('health.rollback')).length, 1);
  assert.notEqual(runtime.active('web'), active);
  await follower.stop();
});

test('with the bake and the health watcher judging the same slot, only one rolls it back', async () => {
  const { store, clock, runtime, deployer, active, setState, audit } = await setup();
  const guard = createRollbackGuard({ store, deployer, clock });
  const health = createHealthWatcher({ store, deployer, runtime, clock, log: silentLogger, intervalMs: 1000, rollbackOnUnhealthy: true, owner: 'h', guard });
  const bake = createBakeWatcher({ store, deployer, runtime, clock, log: silentLogger, bakeMs: 300_000, intervalMs: 1000, thresholds: { minRequests: 10 }, guard });
  const latest = (await store.listDeployments({ instance: 'web', limit: 1 }))[0]!;
  const other = active === 'blue' ? 'green' : 'blue';
  const since = new Date(clock.now()).toISOString();
  const latency = { bucketsMs: [100], counts: [0, 0] };
  runtime.counters.set('web', {
    instance: 'web',
    at: since,
    active,
    colors: [
      { color: active, version: '1.1.0', deploymentId: latest.id, since, requests: 50, responses: { '5xx': 50 }, latency },
      { color: other, version: '1.0.0', deploymentId: null, since, requests: 0, responses: {}, latency },
    ],
  });
  setState(active, 'exited');
  clock.advance(1000);
  const [h, b] = await Promise.all([health.check(), bake.check()]);
  await deployer.idle();
  const rollbacks = (await store.listDeployments({ instance: 'web' })).filter((d) => d.kind === 'rollback');
  assert.equal(rollbacks.length, 1, JSON.stringify({ h, b }));
  assert.equal(runtime.active('web'), other, 'the bad release is not flipped back to');
  assert.equal((await audit('health.rollback')).length + (await audit('bake.rollback')).length, 1);
  // Later passes find nothing left to do.
  clock.advance(1000);
  await Promise.all([health.check(), bake.check()]);
  await deployer.idle();
  assert.equal((await store.listDeployments({ instance: 'web' })).filter((d) => d.kind === 'rollback').length, 1);
  assert.equal(runtime.active('web'), other);
  await health.stop();
  await bake.stop();
});

/** A setup whose watcher calls the lost-instance handler; `deploy` wraps the deployer the handler uses. */
async function lostSetup(wrap: (deploy: Deployer['deploy']) => Deployer['deploy'] = (d) => d) {
  const handler = { current: undefined as ReturnType<typeof createLostInstanceHandler> | undefined };
  const s = await setup({ onLost: (i) => handler.current!.onLost(i), onNeedsDeploy: (i) => handler.current!.redeploy(i) });
  const deploy = wrap((r) => s.deployer.deploy(r));
  handler.current = createLostInstanceHandler({ store: s.store, runtime: s.runtime, deployer: { deploy }, clock: s.clock, log: silentLogger });
  return s;
}

test('an instance the agent does not know is routed again, recorded as lost, and its version redeployed by the server', async () => {
  const s = await lostSetup();
  s.runtime.instances.delete('web'); // the agent's state was reset
  const [finding] = await s.pass();
  assert.deepEqual({ action: finding?.action, version: finding?.version }, { action: 'lost', version: '1.1.0' });
  const [entry] = await s.audit('instance.lost');
  assert.match(entry?.reason ?? '', /redeploys 1\.1\.0/);
  assert.deepEqual((entry?.before as { activeColor: string }).activeColor, s.active);
  assert.deepEqual((entry?.after as { activeColor: null }).activeColor, null, 'the entry records the truth: nothing served');

  const [redeploy] = await s.store.listDeployments({ instance: 'web', limit: 1 });
  assert.deepEqual(
    { actor: redeploy?.actor, version: redeploy?.toVersion, status: redeploy?.status, reason: redeploy?.reason },
    { actor: RECOVERY_ACTOR, version: '1.1.0', status: 'succeeded', reason: 'the agent lost this instance; redeploying 1.1.0' },
  );
  const record = (await s.store.getInstance('web'))!;
  assert.equal(record.currentVersion, '1.1.0');
  assert.ok(record.activeColor, 'the record has an active colour again');
  assert.equal(s.runtime.active('web'), record.activeColor, 'the agent routes the recorded colour');
  assert.ok((await s.store.listAudit({ actor: RECOVERY_ACTOR })).some((e) => e.action.startsWith('deploy')), 'audited like any deploy');
  assert.deepEqual(await s.pass(), [], 'acted once');
  assert.equal((await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR })).length, 1);
  await s.watcher.stop();
});

test('a lost instance whose lease is taken is redeployed on a later pass, and a failed redeploy is not repeated', async () => {
  const taken = { now: true };
  // Another holder takes the instance's lease between the routing and the redeploy.
  const s = await lostSetup((deploy) => async (r) => {
    if (taken.now) {
      const now = s.clock.now();
      await s.store.acquireLock({ instance: r.instance, owner: 'other-replica', deploymentId: 'x', acquiredAt: now, expiresAt: now + 1500 }, now);
      taken.now = false;
    }
    return deploy(r);
  });
  s.runtime.instances.delete('web');
  const [finding] = await s.pass();
  assert.equal(finding?.action, 'lost');
  assert.equal((await s.store.getInstance('web'))!.activeColor, null, 'needs-deploy while the lease is taken');
  assert.equal((await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR })).length, 0);
  await s.pass(); // the lease is still held: not yet
  assert.equal((await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR })).length, 0);
  await s.pass(); // expired: the redeploy starts
  const redeploys = await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR });
  assert.deepEqual(redeploys.map((d) => d.status), ['succeeded']);
  assert.equal(s.runtime.active('web'), (await s.store.getInstance('web'))!.activeColor);

  // Lost again, and this time the version fails to start: the server does not try it again.
  s.runtime.instances.delete('web');
  s.runtime.failNext.set('startSlot', new Error('the start command failed'));
  await s.pass();
  assert.deepEqual((await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR })).map((d) => d.status), ['failed', 'succeeded']);
  await s.pass();
  await s.pass();
  assert.equal((await s.store.listDeployments({ instance: 'web', actor: RECOVERY_ACTOR })).length, 2, 'not repeated');
  assert.equal((await s.store.getInstance('web'))!.activeColor, null, 'still needs-deploy: the operator decides');
  await s.watcher.stop();
});
