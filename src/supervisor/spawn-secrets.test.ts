import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isCutoverError } from '../shared/index.ts';
import { scrubbedSpawnError } from './slot-runner.ts';
import { validateSlotSpec } from './validate-slot-spec.ts';
import type { SlotSpec } from './types.ts';

const spec = (over: Partial<SlotSpec> = {}): SlotSpec => ({
  instance: 'web',
  color: 'blue',
  version: '1.0.0',
  cwd: '/tmp',
  command: 'node server.js',
  env: {},
  health: { path: '/healthz', intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 1 },
  stopTimeoutMs: 1000,
  ...over,
});

test('a NUL byte in an env value or the command is refused naming the key, never the value', () => {
  assert.throws(
    () => validateSlotSpec(spec({ env: { SECRET: 'top-secret\u0000value' }, command: 'node\u0000x' })),
    (e: unknown) => {
      assert.ok(isCutoverError(e));
      assert.match(e.message, /env\.SECRET: must not contain a NUL byte/);
      assert.match(e.message, /command: must not contain a NUL byte/);
      assert.doesNotMatch(JSON.stringify(e.toJSON()), /top-secret/);
      return true;
    },
  );
});

test("spawn's own error loses the value it quotes, and any env value left in it is masked", () => {
  let error: unknown;
  try {
    spawn('true', { env: { A: 'top-secret\u0000value' } });
  } catch (e) {
    error = e;
  }
  assert.match(String((error as Error).message), /Received/, 'node quotes the value');
  const text = scrubbedSpawnError(error, { A: 'top-secret\u0000value' });
  assert.doesNotMatch(text, /top-secret|Received/);
  assert.match(text, /options\.env\['A'\]|null bytes/);
  assert.equal(scrubbedSpawnError(new Error('cannot start top-secret-thing'), { A: 'top-secret-thing' }), 'cannot start ***');
});
