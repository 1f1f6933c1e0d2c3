import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { DEFAULT_FLEET_POLICY, fleetPolicySchema, upgradePolicyKeys } from './index.ts';

test('maxParallelPerMachine: default 2, 1–1000; the old name is no field of the policy itself', () => {
  assert.equal(DEFAULT_FLEET_POLICY.maxParallelPerMachine, 2);
  assert.equal(fleetPolicySchema.safeParse({ maxParallelPerMachine: 0 }).success, false);
  assert.equal(fleetPolicySchema.safeParse({ maxParallelPerMachine: 1001 }).success, false);
  // Only `upgradePolicyKeys` knows the old name: a policy must pass through it first.
  assert.equal(fleetPolicySchema.safeParse({ maxParallelPerHost: 3 }).success, false);
  assert.equal(Object.hasOwn(DEFAULT_FLEET_POLICY, 'maxParallelPerHost'), false);
});

test('upgradePolicyKeys: the old name is taken as the new one, with a warning; the input is not changed', () => {
  const old = { maxParallel: 5, maxParallelPerHost: 3 };
  const { policy, warnings } = upgradePolicyKeys(old);
  assert.deepEqual(policy, { maxParallel: 5, maxParallelPerMachine: 3 });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /`maxParallelPerHost` is deprecated.*`maxParallelPerMachine`/);
  assert.deepEqual(old, { maxParallel: 5, maxParallelPerHost: 3 });
  assert.equal(fleetPolicySchema.parse(policy).maxParallelPerMachine, 3);

  // Both names with the same value: no doubt about what was meant, still a warning.
  assert.deepEqual(upgradePolicyKeys({ maxParallelPerHost: 4, maxParallelPerMachine: 4 }).policy, { maxParallelPerMachine: 4 });
  assert.equal(upgradePolicyKeys({ maxParallelPerHost: 4, maxParallelPerMachine: 4 }).warnings.length, 1);
  // The new name alone, or neither: nothing to say.
  assert.deepEqual(upgradePolicyKeys({ maxParallelPerMachine: 4 }), { policy: { maxParallelPerMachine: 4 }, warnings: [] });
  assert.deepEqual(upgradePolicyKeys({}), { policy: {}, warnings: [] });
});

test('upgradePolicyKeys: both names with different values are refused, naming both', () => {
  assert.throws(
    () => upgradePolicyKeys({ maxParallelPerHost: 3, maxParallelPerMachine: 2 }),
    (e: unknown) => {
      assert.ok(isCutoverError(e));
      assert.equal(e.code, 'VALIDATION_FAILED');
      assert.match(e.message, /maxParallelPerHost.*3.*maxParallelPerMachine.*2/);
      assert.deepEqual((e.details.issues as Array<{ path: string }>).map((i) => i.path), ['maxParallelPerHost', 'maxParallelPerMachine']);
      return true;
    },
  );
  // An invalid value under the old name is the schema's to refuse, under the name it now has.
  const bad = fleetPolicySchema.safeParse(upgradePolicyKeys({ maxParallelPerHost: 0 }).policy);
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues.map((i) => i.path.join('.')), ['maxParallelPerMachine']);
});
