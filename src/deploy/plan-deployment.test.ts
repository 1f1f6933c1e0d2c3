import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planDeployment, planRollback } from './plan-deployment.ts';
import { expiredWarmSlots, finaliseInstance } from './instance-transitions.ts';
import { testInstance } from '../testing/index.ts';
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

/** 1.1.0 rolled back to 1.0.0: blue serves 1.0.0, green keeps 1.1.0 warm. */
const rolledBack = (now: number, warmUntil = now + 1000): InstanceRecord =>
  base({
    currentVersion: '1.0.0',
    activeColor: 'blue',
    slots: {
      blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' },
      green: { version: '1.1.0', status: 'warm', deploymentId: 'd2', warmUntil },
    },
  });
const rollbackHistory = [
  { id: 'd3', kind: 'rollback', status: 'succeeded', toVersion: '1.0.0', fromVersion: '1.1.0' },
  { id: 'd2', kind: 'deploy', status: 'succeeded', toVersion: '1.1.0', fromVersion: '1.0.0' },
  { id: 'd1', kind: 'deploy', status: 'succeeded', toVersion: '1.0.0', fromVersion: '0.9.0' },
] as DeploymentRecord[];

test('a second rollback in a row is refused instead of going forward again, warm slot or not', () => {
  for (const instance of [rolledBack(100), rolledBack(100, 50)]) {
    const r = planRollback(instance, rollbackHistory, 100);
    assert.equal(!r.ok && r.error.code, 'ALREADY_ROLLED_BACK');
    assert.match(!r.ok ? r.error.message : '', /already rolled back to 1\.0\.0; deploy 1\.1\.0 to go forward/);
    assert.deepEqual(!r.ok && r.error.details, { instance: 'web', current: '1.0.0', rolledBackFrom: '1.1.0', deployment: 'd3' });
  }
  // A failed second attempt does not count: the last one that arrived is what decides.
  const failedAgain = [{ kind: 'rollback', status: 'failed', toVersion: '0.9.0', fromVersion: '1.0.0' } as DeploymentRecord, ...rollbackHistory];
  assert.equal((planRollback(rolledBack(100, 50), failedAgain, 100) as { ok: false; error: { code: string } }).error.code, 'ALREADY_ROLLED_BACK');
  // Going forward with a deploy makes a rollback possible again.
  const forward = [{ id: 'd4', kind: 'deploy', status: 'succeeded', toVersion: '1.2.0', fromVersion: '1.0.0' } as DeploymentRecord, ...rollbackHistory];
  const again = planRollback(base({ currentVersion: '1.2.0', activeColor: 'green' }), forward, 100);
  assert.ok(again.ok);
  assert.equal(again.plan.toVersion, '1.0.0');
});

test('rollback --to names an earlier version the instance ran', () => {
  const warmTo = planRollback(serving(100), [], 150, '1.0.0');
  assert.ok(warmTo.ok);
  assert.deepEqual([warmTo.plan.kind, warmTo.plan.strategy, warmTo.plan.toVersion], ['rollback', 'flip-to-warm', '1.0.0']);
  // Past a rollback, --to goes further back.
  const older = planRollback(rolledBack(100), rollbackHistory, 100, '0.9.0');
  assert.ok(older.ok);
  assert.deepEqual([older.plan.strategy, older.plan.toVersion, older.plan.toColor], ['start-and-flip', '0.9.0', 'green']);
  const never = planRollback(rolledBack(100), rollbackHistory, 100, '2.0.0');
  assert.equal(!never.ok && never.error.code, 'VALIDATION_FAILED');
  assert.match(!never.ok ? never.error.message : '', /never ran 2\.0\.0.*it ran 1\.1\.0, 0\.9\.0.*cutover deploy web 2\.0\.0/);
  const same = planRollback(rolledBack(100), rollbackHistory, 100, '1.0.0');
  assert.equal(!same.ok && same.error.code, 'ALREADY_ON_VERSION');
  const failedOnly = [{ kind: 'deploy', status: 'failed', toVersion: '3.0.0', fromVersion: '1.0.0' } as DeploymentRecord];
  assert.equal((planRollback(rolledBack(100), failedOnly, 100, '3.0.0') as { ok: false; error: { code: string } }).error.code, 'VALIDATION_FAILED', 'a version that never served');
  assert.equal((planRollback(base(), [], 0, '1.0.0') as { ok: false; error: { code: string } }).error.code, 'NOTHING_TO_ROLL_BACK');
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
