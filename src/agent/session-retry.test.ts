import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { backoffMs, QUICK_TRIES_AFTER_SESSION, retryDelayMs } from './session-client.ts';

test('an agent that had a session tries again every 0.5–1 s for a while (a server restart), then backs off as one that never had one', () => {
  fc.assert(
    fc.property(fc.nat(100), fc.double({ min: 0, max: 1, noNaN: true }), (failures, random) => {
      const quick = retryDelayMs(failures, true, random);
      if (failures < QUICK_TRIES_AFTER_SESSION) assert.ok(quick >= 500 && quick <= 1000, `${failures}: ${quick}`);
      else assert.equal(quick, backoffMs(failures - QUICK_TRIES_AFTER_SESSION, random));
      assert.equal(retryDelayMs(failures, false, random), backoffMs(failures, random));
      assert.ok(retryDelayMs(failures, false, random) <= 30_000);
    }),
  );
  // The quick tries cover a restart that takes several seconds: their sum is at least 7.5 s.
  assert.ok(QUICK_TRIES_AFTER_SESSION * 500 >= 7500);
  // Without a session the doubling starts at once: the fourth wait may be 8 s.
  assert.equal(retryDelayMs(3, false, 1), 8000);
});
