import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { FakeRuntime, runtimeContract } from '../testing/index.ts';
import { createMachineRuntime } from './machine-runtime.ts';
import type { MachineRuntimeDeps } from './machine-runtime.ts';

const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;
const spec = (instance: string, color: 'blue' | 'green', version: string, digest = DIGEST('a')) => ({
  instance, color, version, digest, start: 'node server.mjs', env: {},
  health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
  stopTimeoutMs: 2000, deploymentId: `d-${instance}-${color}-${version}`,
});

/** Two machines, web-1 and web-2, each a FakeRuntime; `shop` on web-1, `blog` on web-2, `lost` on web-3 (not connected). */
function twoMachines(extra: Partial<MachineRuntimeDeps> = {}) {
  const web1 = new FakeRuntime();
  const web2 = new FakeRuntime();
  const placement: Record<string, string | null> = { shop: 'web-1', blog: 'web-2', lost: 'web-3', local: null };
  const connected = new Map<string | null, FakeRuntime>([['web-1', web1], ['web-2', web2]]);
  const runtime = createMachineRuntime({
    machineOf: async (instance) => placement[instance] ?? null,
    runtimeOf: (machine) => connected.get(machine),
    connected: () => [...connected.keys()].filter((m): m is string => m !== null),
    ...extra,
  });
  return { web1, web2, runtime, connected };
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

test('a machine without a connection is AGENT_UNREACHABLE naming it and when its agent last reported', async () => {
  const at = Date.parse('2026-12-06T07:00:00Z');
  const { runtime } = twoMachines({ lastReport: async (m) => (m === 'web-3' ? at : null) });
  await assert.rejects(runtime.flip('lost', 'blue'), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(e.code, 'AGENT_UNREACHABLE');
    assert.equal(e.message, 'machine web-3 is not connected; its agent last reported at 2026-12-06T07:00:00.000Z (instance "lost" runs there)');
    assert.deepEqual(e.details, { machine: 'web-3', lastReport: at });
    return true;
  });
  const { runtime: bare } = twoMachines();
  await assert.rejects(bare.describe('lost'), /machine web-3 is not connected; its agent has not reported since the server started/);
  await assert.rejects(bare.ensureInstance('local', ['l.test']), /the local agent is not connected/);
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
  const runtime = createMachineRuntime({ machineOf: async () => 'web-1', runtimeOf: (m) => (m === null ? undefined : fake), connected: () => ['web-1'] });
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
