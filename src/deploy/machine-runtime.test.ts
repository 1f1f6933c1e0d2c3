import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { FakeRuntime, runtimeContract, testColorStats } from '../testing/index.ts';
import { createMachineRuntime } from './machine-runtime.ts';
import type { MachineRuntimeDeps } from './machine-runtime.ts';
import type { Runtime } from './runtime.ts';

const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;
const spec = (instance: string, color: 'blue' | 'green', version: string, digest = DIGEST('a')) => ({
  instance, color, version, digest, start: 'node server.mjs', env: {},
  health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
  stopTimeoutMs: 2000, deploymentId: `d-${instance}-${color}-${version}`,
});

/**
 * Three machines, web-1..web-3, each a FakeRuntime (web-3 not connected): `shop` on web-1, `blog`
 * on web-2, `both` on web-1 and web-2, `lost` on web-3, `part` on web-1 and web-3, `nowhere` on none.
 */
function machines(extra: Partial<MachineRuntimeDeps> = {}, make: (name: string) => FakeRuntime = () => new FakeRuntime()) {
  const web1 = make('web-1');
  const web2 = make('web-2');
  const placement: Record<string, string[]> = { shop: ['web-1'], blog: ['web-2'], both: ['web-1', 'web-2'], lost: ['web-3'], part: ['web-1', 'web-3'], nowhere: [] };
  const connected = new Map<string, FakeRuntime>([['web-1', web1], ['web-2', web2]]);
  const runtime = createMachineRuntime({
    machinesOf: async (instance) => placement[instance] ?? [],
    runtimeOf: (machine) => connected.get(machine),
    connected: () => [...connected.keys()],
    ...extra,
  });
  return { web1, web2, runtime, connected };
}
const twoMachines = machines;

/** Starts `version` in `color` of `instance` on every machine (and flips to it with `flip`). */
async function deployed(runtime: Runtime, instance: string, color: 'blue' | 'green', version: string, flip = true) {
  await runtime.ensureArtifact(instance, DIGEST('a'), () => Readable.from([]));
  await runtime.ensureInstance(instance, [`${instance}.test`]);
  await runtime.startSlot(spec(instance, color, version));
  assert.equal((await runtime.waitHealthy(instance, color, 1000)).ok, true);
  if (flip) await runtime.flip(instance, color);
}

test('each instance-keyed call goes to the runtime of the instance’s machine, and only there', async () => {
  const { web1, web2, runtime } = twoMachines();
  await runtime.ensureArtifact('shop', DIGEST('a'), () => Readable.from([]));
  await runtime.ensureInstance('shop', ['shop.test']);
  await runtime.startSlot(spec('shop', 'blue', '1.0.0'));
  assert.equal((await runtime.waitHealthy('shop', 'blue', 1000)).ok, true);
  await runtime.flip('shop', 'blue');
  await runtime.setPreview('shop', null);
  await runtime.setMaintenance('shop', null);
  await runtime.cancelTest('shop');
  assert.equal((await runtime.describe('shop'))?.active, 'blue');
  assert.deepEqual(web1.calls, ['ensureArtifact ' + DIGEST('a'), 'ensureInstance shop', 'start shop blue 1.0.0', 'wait shop blue', 'flip shop blue', 'preview shop off', 'maintenance shop off', 'cancelTest shop']);
  assert.deepEqual(web2.calls, [], 'the other machine saw nothing');
  await runtime.ensureInstance('blog', ['blog.test']);
  assert.deepEqual(web2.calls, ['ensureInstance blog']);
  assert.equal(await runtime.describe('blog').then((d) => d?.name), 'blog');
  assert.equal(await web1.describe('blog'), undefined);
});

test('an instance on two machines: every call goes to both; the flip says when each flipped; stats are summed', async () => {
  const { web1, web2, runtime } = machines();
  await deployed(runtime, 'both', 'blue', '1.0.0');
  for (const r of [web1, web2]) assert.deepEqual(r.calls, ['ensureArtifact ' + DIGEST('a'), 'ensureInstance both', 'start both blue 1.0.0', 'wait both blue', 'flip both blue']);
  await runtime.startSlot(spec('both', 'green', '1.1.0'));
  const started = await runtime.startSlot(spec('both', 'green', '1.1.0'));
  assert.deepEqual(Object.keys(started.machines ?? {}), ['web-1', 'web-2'], 'each machine’s port');
  const flipped = await runtime.flip('both', 'green', undefined, 'forward');
  assert.deepEqual(Object.keys(flipped.machines ?? {}).sort(), ['web-1', 'web-2']);
  assert.equal(flipped.unconfirmed, undefined);
  assert.equal(flipped.pending, undefined);
  assert.deepEqual([(await web1.describe('both'))?.active, (await web2.describe('both'))?.active], ['green', 'green']);
  web1.counters.set('both', { instance: 'both', at: new Date(1).toISOString(), active: 'green', colors: [testColorStats('green', '1.1.0', 'd2', 3, 0)] });
  web2.counters.set('both', { instance: 'both', at: new Date(2).toISOString(), active: 'green', colors: [testColorStats('green', '1.1.0', 'd2', 4, 0)] });
  assert.equal((await runtime.stats('both'))?.colors[0]?.requests, 7);
  const test1 = await runtime.runTest({ instance: 'both', kind: 'smoke', version: '1.1.0', digest: DIGEST('a'), command: 'true', timeoutMs: 1000, previewUrl: 'http://x', previewToken: 't' } as never);
  assert.equal(test1.machine, 'web-1', 'a test runs once, on the first machine, and says which');
  assert.equal(web2.calls.filter((c) => c.startsWith('test')).length, 0);
});

test('health: healthy only when every machine is; the first machine that is not says why, naming it', async () => {
  const { web2, runtime } = machines();
  await deployed(runtime, 'both', 'blue', '1.0.0');
  web2.health.set('2.0.0', { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
  await runtime.startSlot(spec('both', 'green', '2.0.0'));
  const result = await runtime.waitHealthy('both', 'green', 1000);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.message, 'on machine web-2: the health check failed');
});

test('the barrier: a refusal on one machine puts the machines that flipped back, and the flip throws naming it', async () => {
  const { web1, web2, runtime } = machines();
  await deployed(runtime, 'both', 'blue', '1.0.0');
  await runtime.startSlot(spec('both', 'green', '1.1.0'));
  await web2.stopSlot('both', 'green'); // web-2 no longer holds 1.1.0: its flip with expectVersion refuses
  await assert.rejects(runtime.flip('both', 'green', '1.1.0', 'forward'), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.ok(e.code === 'SLOT_NOT_FOUND' || e.code === 'SLOT_NOT_READY', e.code);
    assert.match(e.message, /^on machine web-2: /);
    assert.equal(e.details?.machine, 'web-2');
    return true;
  });
  assert.deepEqual([(await web1.describe('both'))?.active, (await web2.describe('both'))?.active], ['blue', 'blue'], 'every machine together or none');
  assert.ok(web1.calls.includes('flip both green') && web1.calls.at(-1) === 'flip both blue', web1.calls.join());
});

test('the barrier: a machine that does not acknowledge within flipTimeout is unconfirmed; the others flipped', async () => {
  class Silent extends FakeRuntime {
    override flip(): Promise<{ flippedAt: number }> {
      return new Promise(() => undefined);
    }
  }
  const { web1, runtime } = machines({ flipTimeoutMs: 50 }, (name) => (name === 'web-2' ? new Silent() : new FakeRuntime()));
  await runtime.ensureArtifact('both', DIGEST('a'), () => Readable.from([]));
  await runtime.ensureInstance('both', ['both.test']);
  await runtime.startSlot(spec('both', 'blue', '1.0.0'));
  const started = Date.now();
  const flipped = await runtime.flip('both', 'blue');
  assert.ok(Date.now() - started < 1000, 'the flip does not wait past flipTimeout');
  assert.deepEqual(flipped.unconfirmed, ['web-2']);
  assert.deepEqual(Object.keys(flipped.machines ?? {}), ['web-1']);
  assert.equal((await web1.describe('both'))?.active, 'blue');
});

test('closing a preview and cancelling a test do not wait past flipTimeout for a machine that does not answer', async () => {
  class Stalled extends FakeRuntime {
    override setPreview(): Promise<void> {
      return new Promise(() => undefined);
    }
    override cancelTest(): Promise<void> {
      return new Promise(() => undefined);
    }
  }
  const { web1, runtime } = machines({ flipTimeoutMs: 50 }, (name) => (name === 'web-2' ? new Stalled() : new FakeRuntime()));
  await runtime.ensureInstance('both', ['both.test']);
  const started = Date.now();
  await runtime.setPreview('both', null);
  await runtime.cancelTest('both');
  assert.ok(Date.now() - started < 1000, 'went on without the silent machine');
  assert.ok(web1.calls.includes('preview both off') && web1.calls.includes('cancelTest both'));
});

test('a rollback never waits and never undoes: unreachable machines and machines that cannot take it are pending', async () => {
  const { web1, web2, runtime } = machines();
  await deployed(runtime, 'both', 'blue', '1.0.0');
  await deployed(runtime, 'both', 'green', '1.1.0');
  await web2.stopSlot('both', 'blue');
  const back = await runtime.flip('both', 'blue', '1.0.0', 'rollback');
  assert.deepEqual(back.pending, ['web-2']);
  assert.equal((await web1.describe('both'))?.active, 'blue', 'web-1 rolled back; web-2 converges later');
  const part = await (async () => {
    await deployed(runtime, 'part', 'blue', '1.0.0');
    return runtime.flip('part', 'blue', undefined, 'rollback');
  })();
  assert.deepEqual(part.pending, ['web-3'], 'web-3 is not connected: pending, not waited for');
});

test('machinesOf says which machines are connected; on(...) narrows every call to some of them', async () => {
  const { web1, web2, runtime } = machines();
  assert.deepEqual(await runtime.machinesOf('part'), { machines: ['web-1', 'web-3'], connected: ['web-1'], unreachable: ['web-3'] });
  await runtime.on(['web-2']).ensureInstance('both', ['both.test']);
  assert.deepEqual([web1.calls, web2.calls], [[], ['ensureInstance both']]);
});

test('no machine connected is AGENT_UNREACHABLE naming them and when each last reported; no placement names none', async () => {
  const at = Date.parse('2026-12-06T07:00:00Z');
  const { runtime } = machines({ lastReport: async (m) => (m === 'web-3' ? at : null) });
  await assert.rejects(runtime.flip('lost', 'blue'), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(e.code, 'AGENT_UNREACHABLE');
    assert.equal(e.message, 'machine web-3 is not connected (web-3 last reported at 2026-12-06T07:00:00.000Z) (instance "lost" runs there)');
    assert.deepEqual(e.details, { machine: 'web-3', machines: ['web-3'], lastReport: at });
    return true;
  });
  const { runtime: bare } = machines();
  await assert.rejects(bare.describe('lost'), /machine web-3 is not connected \(web-3 has not reported since the server started\)/);
  await assert.rejects(bare.ensureInstance('nowhere', ['l.test']), /is placed on no machine/);
  await assert.rejects(bare.applyDesired(1, { machine: 'web-3', instances: [] }), /machine web-3 is not connected/);
});

test('applyDesired goes to the machine the document names', async () => {
  const { web1, web2, runtime } = twoMachines();
  assert.deepEqual(await runtime.applyDesired(2, { machine: 'web-2', instances: [] }), { accepted: true });
  assert.equal(web2.desired?.number, 2);
  assert.equal(web1.desired, undefined);
});

test('listArtifacts is the union over connected machines: in use on any is in use', async () => {
  const { web1, web2, runtime } = twoMachines();
  await runtime.ensureArtifact('shop', DIGEST('a'), () => Readable.from([]));
  await runtime.ensureInstance('shop', ['shop.test']);
  await runtime.startSlot(spec('shop', 'blue', '1.0.0', DIGEST('a')));
  web2.artifacts.add(DIGEST('a')); // held on web-2 too, unused there
  web2.artifacts.add(DIGEST('b'));
  assert.deepEqual(await runtime.listArtifacts(), [
    { digest: DIGEST('a'), size: 100, inUse: true },
    { digest: DIGEST('b'), size: 100, inUse: false },
  ]);
  assert.ok(web1.artifacts.has(DIGEST('a')));
});

test('deleteArtifact deletes on each connected machine that holds it, and on none while a slot anywhere uses it', async () => {
  const { web1, web2, runtime } = twoMachines();
  for (const r of [web1, web2]) r.artifacts.add(DIGEST('c'));
  web2.artifacts.add(DIGEST('d'));
  await runtime.deleteArtifact(DIGEST('c'));
  assert.deepEqual([web1.artifacts.has(DIGEST('c')), web2.artifacts.has(DIGEST('c'))], [false, false]);
  assert.ok(web2.calls.includes(`deleteArtifact ${DIGEST('c')}`));
  assert.ok(!web1.calls.includes(`deleteArtifact ${DIGEST('d')}`));

  await runtime.ensureArtifact('blog', DIGEST('e'), () => Readable.from([]));
  web1.artifacts.add(DIGEST('e'));
  await runtime.ensureInstance('blog', ['blog.test']);
  await runtime.startSlot(spec('blog', 'blue', '1.0.0', DIGEST('e')));
  await assert.rejects(runtime.deleteArtifact(DIGEST('e')), (e: Error & { code?: string }) => e.code === 'SLOT_BUSY' && /machine web-2/.test(e.message));
  assert.ok(web1.artifacts.has(DIGEST('e')), 'an artifact in use somewhere is deleted nowhere');
});

// The dispatching runtime over one connected machine keeps the port's contract.
runtimeContract('createMachineRuntime over one FakeRuntime', async () => {
  const fake = new FakeRuntime();
  // Every instance (and the contract's desired-state document) is on the one connected machine.
  const runtime = createMachineRuntime({ machinesOf: async () => ['web-1'], runtimeOf: () => fake, connected: () => ['web-1'] });
  return {
    runtime,
    artifact: { digest: DIGEST('a'), open: () => Readable.from([]) },
    rollBackLocally: (instance) => fake.rollBackLocally(instance),
    spec(instance, color, version, healthy = true) {
      if (!healthy) fake.health.set(version, { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
      return spec(instance, color, version);
    },
    stop: async () => {},
  };
});
