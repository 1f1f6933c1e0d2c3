import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
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

// The slot-start half of the NUL refusal; a publish refuses it first (releases/env-bounds.ts).
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
