import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentRecord, StepName } from '../store/index.ts';
import { testDeployment } from '../testing/index.ts';
import { undoAfterFailure } from './instance-transitions.ts';
import { planSteps } from './steps.ts';

/** A start-and-flip 1.0.0 (blue) → 2.0.0 (green) with both tests and a 10% step, stopped at `at` (which is running). */
function stoppedAt(at: string, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const names = planSteps(over.strategy ?? 'start-and-flip', { rollout: { steps: [10], pauseMs: 0, analysis: false }, tests: { smoke: true, verify: true } });
  return testDeployment(names, at as StepName, { id: 'd', toVersion: '2.0.0', ...over });
}

test('the undo for each failure point of a start-and-flip', () => {
  const none = { cancelTest: false, closePreview: false, flipBack: null, stopNewSlot: false };
  assert.deepEqual(undoAfterFailure(stoppedAt('prepare')), none);
  assert.deepEqual(undoAfterFailure(stoppedAt('start')), { ...none, stopNewSlot: true });
  assert.deepEqual(undoAfterFailure(stoppedAt('health')), { ...none, stopNewSlot: true });
  assert.deepEqual(undoAfterFailure(stoppedAt('smoke')), { ...none, cancelTest: true, closePreview: true, stopNewSlot: true });
  const back = { color: 'blue', version: '1.0.0' };
  assert.deepEqual(undoAfterFailure(stoppedAt('shift-10')), { ...none, flipBack: { ...back, afterFlip: false }, stopNewSlot: true });
  // A flip that did not finish: the agent's flip is atomic, and it either happened or not; the old slot is untouched.
  assert.deepEqual(undoAfterFailure(stoppedAt('flip')), { ...none, flipBack: { ...back, afterFlip: false }, stopNewSlot: true });
  assert.deepEqual(undoAfterFailure(stoppedAt('verify')), { ...none, cancelTest: true, flipBack: { ...back, afterFlip: true }, stopNewSlot: true });
  assert.deepEqual(undoAfterFailure(stoppedAt('finalise')), { ...none, flipBack: { ...back, afterFlip: true }, stopNewSlot: true });
});

test('nothing is flipped or stopped when the slot is not its own, or for a first deployment after its flip', () => {
  assert.deepEqual(undoAfterFailure(stoppedAt('verify'), false), { cancelTest: true, closePreview: false, flipBack: null, stopNewSlot: false });
  const first = stoppedAt('verify', { fromVersion: null, fromColor: null });
  assert.deepEqual(undoAfterFailure(first), { cancelTest: true, closePreview: false, flipBack: null, stopNewSlot: false });
});
