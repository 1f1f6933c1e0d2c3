import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DeploymentRecord, StepRecord } from '../store/index.ts';
import { abortable, chooseTests, flipDone, kindOf, planSteps, shiftStepName, shiftStepPercent } from './steps.ts';

const TESTS = { smoke: { command: 'npm run smoke', timeoutMs: 1000 }, verify: { command: 'npm run e2e', timeoutMs: 1000 } };
const rollout = (steps: number[]) => ({ steps, pauseMs: 0, analysis: false });

test('a start-and-flip runs smoke before the first shift or the flip, verify after the flip and before finalise', () => {
  assert.deepEqual(planSteps('start-and-flip', { tests: chooseTests('start-and-flip', TESTS) }), ['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise']);
  assert.deepEqual(planSteps('start-and-flip', { rollout: rollout([10, 50]), tests: chooseTests('start-and-flip', TESTS, { rollout: rollout([10, 50]) }) }), [
    'prepare', 'start', 'health', 'smoke', 'shift-10', 'shift-50', 'flip', 'verify', 'finalise',
  ]);
  assert.deepEqual(planSteps('start-and-flip'), ['prepare', 'start', 'health', 'flip', 'finalise']);
});

test('which tests run: none for a flip to a warm slot or --skip-tests, smoke only for --steps 0, only those the release has', () => {
  assert.deepEqual(chooseTests('flip-to-warm', TESTS), { smoke: false, verify: false });
  assert.deepEqual(chooseTests('start-and-flip', TESTS, { skip: true }), { smoke: false, verify: false });
  assert.deepEqual(chooseTests('start-and-flip', TESTS, { rollout: rollout([0]) }), { smoke: true, verify: false });
  assert.deepEqual(chooseTests('start-and-flip', { verify: TESTS.verify }), { smoke: false, verify: true });
  assert.deepEqual(chooseTests('start-and-flip', undefined), { smoke: false, verify: false });
  assert.deepEqual(planSteps('flip-to-warm', { tests: chooseTests('flip-to-warm', TESTS) }), ['flip', 'finalise']);
});

test('every plan keeps the order prepare < start < health < smoke < shifts (increasing) < flip < verify < finalise', () => {
  const order = ['prepare', 'start', 'health', 'smoke', 'shift', 'flip', 'verify', 'finalise'];
  fc.assert(
    fc.property(
      fc.constantFrom('start-and-flip' as const, 'flip-to-warm' as const),
      fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 5 }).map((a) => a.sort((x, y) => x - y)), { nil: undefined }),
      fc.boolean(),
      fc.boolean(),
      (strategy, steps, smoke, verify) => {
        const plan = planSteps(strategy, { ...(steps ? { rollout: rollout(steps) } : {}), tests: { smoke, verify } });
        const ranks = plan.map((n) => order.indexOf(kindOf(n)));
        assert.deepEqual([...ranks].sort((a, b) => a - b), ranks);
        assert.equal(plan.filter((n) => n === 'flip').length, 1);
        assert.equal(plan.at(-1), 'finalise');
        assert.deepEqual(plan.filter((n) => kindOf(n) === 'shift').map((n) => shiftStepPercent(n)), steps ?? []);
      },
    ),
  );
});

test('shift step names round-trip; other names have no percent', () => {
  assert.equal(shiftStepPercent(shiftStepName(25)), 25);
  assert.equal(shiftStepPercent('flip'), undefined);
  assert.equal(kindOf('shift-0'), 'shift');
  assert.equal(kindOf('verify'), 'verify');
});

test('an abort is taken before the flip and during verify, not between the flip and verify end nor after', () => {
  const d = (statuses: Record<string, StepRecord['status']>): DeploymentRecord =>
    ({ steps: (['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise'] as const).map((name) => ({ name, status: statuses[name] ?? 'pending' })) }) as DeploymentRecord;
  assert.equal(abortable(d({ prepare: 'done', start: 'running' })), true);
  assert.equal(abortable(d({ prepare: 'done', start: 'done', health: 'done', smoke: 'running' })), true);
  assert.equal(abortable(d({ prepare: 'done', start: 'done', health: 'done', smoke: 'done', flip: 'running' })), false);
  const verifying = d({ prepare: 'done', start: 'done', health: 'done', smoke: 'done', flip: 'done', verify: 'running' });
  assert.equal(abortable(verifying), true);
  assert.equal(flipDone(verifying), true);
  assert.equal(abortable(d({ prepare: 'done', start: 'done', health: 'done', smoke: 'done', flip: 'done', verify: 'done', finalise: 'running' })), false);
});
