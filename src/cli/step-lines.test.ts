import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentView } from '../api/index.ts';
import { rollbackLine, stepLine, stepsCell, testsCell } from './step-lines.ts';

const d = {
  steps: [
    { name: 'health', status: 'done', startedAt: '1970-01-01T00:00:00.000Z', finishedAt: '1970-01-01T00:00:00.300Z' },
    { name: 'smoke', status: 'done', startedAt: '1970-01-01T00:00:00.300Z', finishedAt: '1970-01-01T00:00:01.500Z', detail: { passed: true, exitCode: 0 } },
    { name: 'flip', status: 'done', startedAt: '1970-01-01T00:00:01.500Z', finishedAt: '1970-01-01T00:00:01.502Z' },
    { name: 'verify', status: 'failed', startedAt: '1970-01-01T00:00:01.502Z', finishedAt: '1970-01-01T00:00:13.502Z', detail: { passed: false, exitCode: null, timedOut: true } },
    { name: 'finalise', status: 'pending' },
  ],
  rollback: { strategy: 'flip-to-warm', toVersion: '1.0.0', toColor: 'blue', flippedAt: '1970-01-01T00:00:13.600Z', tookMs: 3 },
} as unknown as DeploymentView;

test('steps print with their timings and test outcomes, and a flip back with its timing', () => {
  assert.deepEqual(d.steps.map(stepLine), ['✓ health 300 ms', '✓ smoke 1200 ms (exit 0)', '✓ flip 2 ms', '✗ verify 12.0 s (timed out)', '· finalise']);
  assert.equal(rollbackLine(d), '↩ flipped back to 1.0.0 (blue, flip-to-warm) in 3 ms');
  assert.equal(testsCell(d), 'smoke ✓ verify ✗');
  assert.equal(testsCell({ ...d, skipTests: true }), 'skipped');
  assert.equal(stepsCell(d), 'health 300 ms, smoke 1200 ms, flip 2 ms, verify 12.0 s, finalise pending');
});

test('a step another replica resumed names it', () => {
  const step = { name: 'smoke', status: 'done', startedAt: '1970-01-01T00:00:00.000Z', finishedAt: '1970-01-01T00:00:04.100Z', detail: { passed: true, exitCode: 0, resumedBy: 'b/10.0.0.2:7070' } } as unknown as DeploymentView['steps'][number];
  assert.equal(stepLine(step), '✓ smoke 4100 ms (exit 0, resumed by b/10.0.0.2:7070)');
});
