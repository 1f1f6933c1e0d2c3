import { invalidInput, parseDuration } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import type { RolloutSpec } from '../store/index.ts';

export { shiftStepName, shiftStepPercent } from './steps.ts';

/** What a caller asks for: steps may end with 100 (the flip), which is dropped. */
export interface RolloutRequest {
  steps: number[];
  /** Hold between steps (ms), or null to wait for `resume`. */
  pauseMs: number | null;
  analysis?: boolean;
}

/**
 * Checks and normalises a gradual cutover: integer percents 0–100, strictly increasing, at least
 * one below 100 (100 itself is the flip, always last). Throws VALIDATION_FAILED naming each problem.
 */
export function normaliseRollout(request: RolloutRequest): RolloutSpec {
  const issues: FieldIssue[] = [];
  const steps = [...request.steps];
  if (steps.at(-1) === 100) steps.pop();
  request.steps.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p > 100) issues.push({ path: `steps[${i}]`, message: `must be an integer percent 0–100, got ${p}` });
    else if (i > 0 && p <= (request.steps[i - 1] as number))
      issues.push({ path: `steps[${i}]`, message: `must be larger than the step before (${request.steps[i - 1]}): steps only go up` });
  });
  if (issues.length === 0 && steps.length === 0) {
    issues.push({ path: 'steps', message: 'needs at least one step below 100, e.g. 10,50,100 (100 alone is an ordinary deployment)' });
  }
  if (steps.length > 20) issues.push({ path: 'steps', message: `at most 20 steps, got ${steps.length}` });
  const pause = request.pauseMs;
  if (pause !== null && (!Number.isSafeInteger(pause) || pause < 0 || pause > 7 * 86_400_000)) {
    issues.push({ path: 'pause', message: 'must be a duration from 0 to 7 days, or "manual"' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'The rollout', issues);
  return { steps, pauseMs: pause, analysis: request.analysis ?? false };
}

/** `10% → 50% → 100%, 2m pause, analysis` — for progress lines and audit entries. */
export function describeRollout(r: RolloutSpec): string {
  const pause = r.pauseMs === null ? 'manual resume' : `${Math.round(r.pauseMs / 1000)}s pause`;
  return `${[...r.steps, 100].map((p) => `${p}%`).join(' → ')}, ${pause}${r.analysis ? ', analysis' : ''} between steps`;
}

/** The default hold between weighted steps. */
export const DEFAULT_PAUSE_MS = 60_000;

/** A rollout as a caller sends it (API body, CLI flags): `pause` a duration ("2m", ms) or "manual". */
export interface RawRollout {
  steps?: number[] | undefined;
  pause?: string | number | undefined;
  analysis?: boolean | undefined;
}

/**
 * The rollout rules in one place: `pause` and `analysis` need `steps`; `pause` defaults to a
 * minute; then {@link normaliseRollout}. Undefined without `steps`. Throws VALIDATION_FAILED naming what to fix.
 */
export function rolloutFromRequest(raw: RawRollout): RolloutSpec | undefined {
  if (!raw.steps) {
    if (raw.pause !== undefined || raw.analysis !== undefined) {
      throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: 'steps', message: 'pause and analysis need steps, e.g. "steps": [10, 50, 100]' }]);
    }
    return undefined;
  }
  const pause = raw.pause ?? DEFAULT_PAUSE_MS;
  const pauseMs = pause === 'manual' ? null : parseDuration(pause);
  if (pauseMs === undefined) {
    throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: 'pause', message: `must be a duration like "30s" or "2m", or "manual", not ${JSON.stringify(pause)}` }]);
  }
  return normaliseRollout({ steps: raw.steps, pauseMs, analysis: raw.analysis ?? false });
}
