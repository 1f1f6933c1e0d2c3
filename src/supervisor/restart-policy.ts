import { invalidInput, type FieldIssue } from '../shared/index.ts';
import type { RestartPolicy } from './types.ts';

/** 250 ms doubling to 30 s; 5 crashes in 5 minutes is a crash loop. */
export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = {
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
  maxCrashes: 5,
  windowMs: 5 * 60_000,
};

/** A slot's crash bookkeeping. */
export interface CrashHistory {
  /** Times of the crashes still inside the window. */
  times: number[];
  /** Restart attempts since the slot was last stable. */
  attempt: number;
}

/** What to do after a crash. */
export type RestartDecision =
  | { restart: true; attempt: number; delayMs: number }
  | { restart: false; attempt: number; crashesInWindow: number };

/** The delay before restart attempt `attempt` (1-based): doubling, capped. */
export function backoffDelay(attempt: number, policy: RestartPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity long after the cap is reached, which Math.min handles.
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
}

/**
 * Records a crash at `now` in `history` (mutated) and decides whether to restart, and when.
 * `stableSince` is when the slot last became healthy, if it still was healthy when it crashed:
 * a slot that stayed healthy for `resetAfterMs` starts its backoff over. The crash window is
 * independent of that: `maxCrashes` crashes within `windowMs` is a crash loop, however spaced.
 * Pure, so the rules are tested without processes.
 */
export function planRestart(
  history: CrashHistory,
  now: number,
  stableSince: number | undefined,
  policy: RestartPolicy,
): RestartDecision {
  if (stableSince !== undefined && now - stableSince >= policy.resetAfterMs) history.attempt = 0;
  history.attempt += 1;
  history.times = history.times.filter((t) => t > now - policy.windowMs);
  history.times.push(now);
  if (history.times.length >= policy.maxCrashes) {
    return { restart: false, attempt: history.attempt, crashesInWindow: history.times.length };
  }
  return { restart: true, attempt: history.attempt, delayMs: backoffDelay(history.attempt, policy) };
}

/** Fills in the defaults; `false` means no restarts at all. */
export function resolveRestartPolicy(value: Partial<RestartPolicy> | false | undefined): RestartPolicy | undefined {
  if (value === false) return undefined;
  const policy = { ...DEFAULT_RESTART_POLICY, ...value };
  const issues: FieldIssue[] = [];
  for (const [key, n] of Object.entries(policy)) {
    const min = key === 'maxCrashes' ? 1 : 0;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min) {
      issues.push({ path: `restart.${key}`, message: `must be a number ≥ ${min}` });
    }
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'supervisor options', issues);
  return policy;
}
