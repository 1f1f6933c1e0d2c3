import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PersistedInstance, PersistedSlot } from './agent-state.ts';
import { planLocalRollback } from './local-rollback.ts';
import type { LocalRollbackInput } from './local-rollback.ts';

const slot = (version: string, deploymentId: string): PersistedSlot => ({
  version,
  digest: `sha256:${'a'.repeat(64)}`,
  start: 'node server.mjs',
  env: {},
  health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
  stopTimeoutMs: 1000,
  deploymentId,
});

/** web: green 2.0.0 serving, blue 1.0.0 warm (left by the flip to green), both healthy. */
const flipped = (): PersistedInstance => ({
  hosts: ['web.test'],
  active: 'green',
  slots: { blue: slot('1.0.0', 'd1'), green: slot('2.0.0', 'd2') },
  left: { color: 'blue', version: '1.0.0', deploymentId: 'd1' },
});

const input = (instance: PersistedInstance | undefined, over: Partial<LocalRollbackInput> = {}): LocalRollbackInput => ({
  name: 'web',
  instance,
  known: ['api', 'web'],
  slotStates: { blue: 'healthy', green: 'healthy' },
  pending: [],
  ...over,
});

const code = (plan: ReturnType<typeof planLocalRollback>) => (plan.ok ? 'ok' : plan.error.code);

test('back to the slot the last flip left, when it is still that slot and healthy', () => {
  const plan = planLocalRollback(input(flipped()));
  assert.deepEqual(plan, { ok: true, from: { color: 'green', version: '2.0.0' }, to: { color: 'blue', version: '1.0.0' } });
});

test('an unknown instance names the ones the agent serves', () => {
  const plan = planLocalRollback(input(undefined, { name: 'shop' }));
  assert.equal(code(plan), 'INSTANCE_NOT_FOUND');
  assert.match(plan.ok ? '' : plan.error.message, /"shop".*serves api, web/);
});

test('nothing serving, or no flip has left a slot: nothing to roll back', () => {
  assert.equal(code(planLocalRollback(input({ ...flipped(), active: null }))), 'NOTHING_TO_ROLL_BACK');
  const { left: _, ...neverFlipped } = flipped();
  assert.equal(code(planLocalRollback(input(neverFlipped))), 'NOTHING_TO_ROLL_BACK');
});

test('a slot started since in the colour the flip left never served: refused (it would go forward)', () => {
  const replaced = flipped();
  replaced.slots.blue = slot('3.0.0', 'd3');
  const plan = planLocalRollback(input(replaced));
  assert.equal(code(plan), 'NOTHING_TO_ROLL_BACK');
  assert.match(plan.ok ? '' : plan.error.message, /blue slot that served 1\.0\.0 now runs 3\.0\.0/);
  const stopped = flipped();
  delete stopped.slots.blue;
  assert.match(planLocalRollback(input(stopped)).ok ? '' : 'stopped', /stopped/);
});

test('a warm slot that is not healthy (restarting, stopped) is refused with its state', () => {
  for (const state of ['restarting', 'unhealthy', undefined]) {
    const plan = planLocalRollback(input(flipped(), { slotStates: state ? { blue: state, green: 'healthy' } : { green: 'healthy' } }));
    assert.equal(code(plan), 'SLOT_NOT_READY');
    assert.match(plan.ok ? '' : plan.error.message, new RegExp(`is ${state ?? 'stopped'}, not healthy`));
  }
});

test('a second local rollback before the server recorded the first is refused: it would go forward', () => {
  // After the first: blue serves, green was left.
  const after: PersistedInstance = { ...flipped(), active: 'blue', left: { color: 'green', version: '2.0.0', deploymentId: 'd2' } };
  const pending = [{ id: 'lrb_1', instance: 'web', from: { color: 'green' as const, version: '2.0.0' }, to: { color: 'blue' as const, version: '1.0.0' }, at: 0 }];
  assert.equal(code(planLocalRollback(input(after, { pending }))), 'ALREADY_ROLLED_BACK');
  // Another instance's pending rollback is no reason.
  assert.equal(code(planLocalRollback(input(after, { pending: [{ ...pending[0]!, instance: 'api' }] }))), 'ok');
});
