import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planDeployment, planRollback } from './plan-deployment.ts';
import { expiredWarmSlots, finaliseInstance } from './instance-transitions.ts';
import { testInstance } from './test-fixtures.ts';
import type { DeploymentRecord, InstanceRecord } from '../store/index.ts';

const base = testInstance;

const serving = (now: number, warmUntil = now + 1000): InstanceRecord =>
  base({
    currentVersion: '1.1.0',
    activeColor: 'green',
    slots: {
      blue: { version: '1.0.0', status: 'warm', deploymentId: 'd1', warmUntil },
      green: { version: '1.1.0', status: 'live', deploymentId: 'd2' },
    },
  });

test('a first deployment starts in blue', () => {
  const r = planDeployment(base(), '1.0.0', 0);
  assert.ok(r.ok);
  assert.equal(r.plan.toColor, 'blue');
  assert.equal(r.plan.strategy, 'start-and-flip');
  assert.deepEqual(r.plan.steps, ['prepare', 'start', 'health', 'flip', 'finalise']);
});

test('a deployment goes to the idle colour', () => {
  const r = planDeployment(serving(0), '1.2.0', 0);
  assert.ok(r.ok);
  assert.equal(r.plan.toColor, 'blue');
  assert.equal(r.plan.fromColor, 'green');
  assert.equal(r.plan.fromVersion, '1.1.0');
});

test('deploying the current version is refused', () => {
  const r = planDeployment(serving(0), '1.1.0', 0);
  assert.equal(!r.ok && r.error.code, 'ALREADY_ON_VERSION');
});

test('deploying the version the warm slot holds flips back to it', () => {
  const r = planDeployment(serving(0), '1.0.0', 0);
  assert.ok(r.ok);
  assert.equal(r.plan.strategy, 'flip-to-warm');
  assert.equal(r.plan.toColor, 'blue');
});

test('rollback inside the window flips to the warm slot', () => {
  const r = planRollback(serving(100, 200), [], 150);
  assert.ok(r.ok);
  assert.equal(r.plan.strategy, 'flip-to-warm');
  assert.equal(r.plan.toVersion, '1.0.0');
  assert.deepEqual(r.plan.steps, ['flip', 'finalise']);
});

test('rollback after the window deploys the previous version from history', () => {
  const history = [{ status: 'succeeded', toVersion: '1.1.0', fromVersion: '1.0.0' } as DeploymentRecord];
  const r = planRollback(serving(100, 200), history, 200);
  assert.ok(r.ok);
  assert.equal(r.plan.strategy, 'start-and-flip');
  assert.equal(r.plan.toVersion, '1.0.0');
  assert.equal(r.plan.toColor, 'blue');
});

test('rollback with nothing before is refused with a reason', () => {
  const r = planRollback(base(), [], 0);
  assert.equal(!r.ok && r.error.code, 'NOTHING_TO_ROLL_BACK');
  const first = base({ currentVersion: '1.0.0', activeColor: 'blue' });
  const r2 = planRollback(first, [{ status: 'succeeded', toVersion: '1.0.0', fromVersion: null } as DeploymentRecord], 0);
  assert.equal(!r2.ok && r2.error.code, 'NOTHING_TO_ROLL_BACK');
});

test('property: a plan never targets the active colour, and flip-to-warm only when the slot is warm', () => {
  const slot = fc.option(
    fc.record({
      version: fc.constantFrom('1.0.0', '1.1.0', '2.0.0'),
      status: fc.constantFrom('starting', 'live', 'warm', 'stopped', 'failed'),
      deploymentId: fc.constant('d'),
      warmUntil: fc.integer({ min: 0, max: 200 }),
    }),
    { nil: null },
  );
  fc.assert(
    fc.property(
      fc.constantFrom('blue', 'green', null),
      slot,
      slot,
      fc.constantFrom('1.0.0', '1.1.0', '2.0.0'),
      fc.integer({ min: 0, max: 200 }),
      (active, blue, green, version, now) => {
        const instance = base({
          activeColor: active as 'blue' | 'green' | null,
          currentVersion: active ? ((active === 'blue' ? blue : green)?.version ?? '0.0.1') : null,
          slots: { blue: blue as InstanceRecord['slots']['blue'], green: green as InstanceRecord['slots']['green'] },
        });
        for (const r of [planDeployment(instance, version, now), planRollback(instance, [], now)]) {
          if (!r.ok) continue;
          assert.notEqual(r.plan.toColor, instance.activeColor);
          if (r.plan.strategy === 'flip-to-warm') {
            const target = instance.slots[r.plan.toColor]!;
            assert.equal(target.status, 'warm');
            assert.ok((target.warmUntil ?? 0) > now);
            assert.equal(target.version, r.plan.toVersion);
          }
        }
      },
    ),
  );
});

test('finalise makes the new colour live and keeps the old one warm for the window', () => {
  const before = base({
    currentVersion: '1.0.0',
    activeColor: 'blue',
    slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' }, green: null },
  });
  const d = { id: 'd2', toVersion: '1.1.0', toColor: 'green', fromColor: 'blue' } as DeploymentRecord;
  const after = finaliseInstance(before, d, 1000, 500);
  assert.equal(after.currentVersion, '1.1.0');
  assert.equal(after.activeColor, 'green');
  assert.deepEqual(after.slots.green, { version: '1.1.0', status: 'live', deploymentId: 'd2' });
  assert.deepEqual(after.slots.blue, { version: '1.0.0', status: 'warm', deploymentId: 'd1', warmUntil: 1500 });
  assert.deepEqual(expiredWarmSlots([after], 1499), []);
  assert.deepEqual(expiredWarmSlots([after], 1500), [{ instance: 'web', color: 'blue' }]);
});
