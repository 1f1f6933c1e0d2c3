import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../../shared/index.ts';
import { perMachineLimit } from './fleet.ts';

test('--max-parallel-per-machine; its old name --max-parallel-per-host with a warning; both at odds refused naming both', () => {
  assert.deepEqual(perMachineLimit({}), {});
  assert.deepEqual(perMachineLimit({ maxParallelPerMachine: '3' }), { value: 3 });
  const old = perMachineLimit({ maxParallelPerHost: '2' });
  assert.equal(old.value, 2);
  assert.match(old.warning ?? '', /--max-parallel-per-host is deprecated: use --max-parallel-per-machine/);
  assert.equal(perMachineLimit({ maxParallelPerHost: '2', maxParallelPerMachine: '2' }).value, 2);
  for (const [opts, flag] of [
    [{ maxParallelPerHost: '2', maxParallelPerMachine: '3' }, /--max-parallel-per-host 2 and --max-parallel-per-machine 3 disagree/],
    [{ maxParallelPerMachine: 'two' }, /--max-parallel-per-machine must be a whole number/],
    [{ maxParallelPerHost: '-1' }, /--max-parallel-per-host must be a whole number/],
  ] as const) {
    assert.throws(() => perMachineLimit(opts), (e: unknown) => isCutoverError(e) && e.code === 'VALIDATION_FAILED' && flag.test(e.message));
  }
});
