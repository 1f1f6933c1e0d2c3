import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './index.ts';

test('waitFor returns the first truthy answer of the check', async () => {
  let calls = 0;
  const value = await waitFor('the third call', async () => (++calls >= 3 ? { calls } : undefined));
  assert.deepEqual(value, { calls: 3 });
});

test('waitFor accepts a boolean check and a synchronous one', async () => {
  let n = 0;
  assert.equal(await waitFor('n to pass 2', () => ++n > 2), true);
});

test('waitFor throws with what it waited for once the deadline passes', async () => {
  await assert.rejects(
    waitFor('something that never comes', () => false, { timeoutMs: 30 }),
    /^Error: timed out waiting for something that never comes$/,
  );
  let seen = 0;
  await assert.rejects(
    waitFor(
      () => `the count (last seen ${seen})`,
      () => (seen++, false),
      30,
    ),
    /timed out waiting for the count \(last seen \d+\)/,
  );
});

test('waitFor with intervalMs 0 checks back to back', async () => {
  let calls = 0;
  await waitFor('ten calls', () => ++calls === 10, { intervalMs: 0 });
  assert.equal(calls, 10);
});
