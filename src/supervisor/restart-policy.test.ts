import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import {
  backoffDelay,
  DEFAULT_RESTART_POLICY,
  planRestart,
  resolveRestartPolicy,
  type CrashHistory,
} from './restart-policy.ts';

const policy = { initialDelayMs: 250, maxDelayMs: 30_000, resetAfterMs: 60_000, maxCrashes: 5, windowMs: 300_000 };

test('the delay doubles from the initial one up to the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 200].map((attempt) => backoffDelay(attempt, policy)),
    [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
});

test('crashes restart with growing delays until the window holds maxCrashes of them', () => {
  const history: CrashHistory = { times: [], attempt: 0 };
  const decisions = [0, 1000, 2000, 3000, 4000].map((now) => planRestart(history, now, undefined, policy));
  assert.deepEqual(decisions, [
    { restart: true, attempt: 1, delayMs: 250 },
    { restart: true, attempt: 2, delayMs: 500 },
    { restart: true, attempt: 3, delayMs: 1000 },
    { restart: true, attempt: 4, delayMs: 2000 },
    { restart: false, attempt: 5, crashesInWindow: 5 },
  ]);
});

test('crashes that fall out of the window no longer count', () => {
  const history: CrashHistory = { times: [0, 10, 20, 30], attempt: 4 };
  const decision = planRestart(history, 300_020, undefined, policy);
  assert.equal(decision.restart, true, 'only 30 and now are inside the 5 minutes');
  assert.deepEqual(history.times, [30, 300_020]);
});

test('a slot that stayed healthy long enough starts its backoff over, but the window still counts', () => {
  const history: CrashHistory = { times: [], attempt: 0 };
  planRestart(history, 0, undefined, policy);
  planRestart(history, 1_000, undefined, policy);
  assert.deepEqual(planRestart(history, 70_000, 5_000, policy), { restart: true, attempt: 1, delayMs: 250 });
  assert.deepEqual(planRestart(history, 80_000, 75_000, policy), { restart: true, attempt: 2, delayMs: 500 });
  assert.equal(planRestart(history, 200_000, 81_000, policy).restart, false, 'five crashes in five minutes');
});

test('options fill in the defaults, false turns restarts off, nonsense is refused', () => {
  assert.deepEqual(resolveRestartPolicy(undefined), DEFAULT_RESTART_POLICY);
  assert.deepEqual(resolveRestartPolicy({ maxCrashes: 2 }), { ...DEFAULT_RESTART_POLICY, maxCrashes: 2 });
  assert.equal(resolveRestartPolicy(false), undefined);
  assert.throws(
    () => resolveRestartPolicy({ maxCrashes: 0, initialDelayMs: -1 }),
    (err) =>
      isCutoverError(err) && /restart\.initialDelayMs[\s\S]*restart\.maxCrashes/.test(err.message),
  );
});
