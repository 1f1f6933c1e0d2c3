import { invalidInput } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';

/** HTTP status classes the router counts per colour. */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

/**
 * A latency histogram with Prometheus `le` semantics: a sample of exactly `bucketsMs[i]` ms
 * falls in bucket `i`; bucket 0 covers [0, bucketsMs[0]].
 *
 * `counts` are PER BUCKET, not cumulative: the router's hot path then does exactly one increment
 * per request, and no ordering of concurrent increments can make the series inconsistent.
 * (Prometheus exposition is cumulative; convert when rendering `/metrics`.)
 *
 * `counts.length` is either `bucketsMs.length + 1` (the last count is the implicit +Inf bucket)
 * or `bucketsMs.length` when `bucketsMs` already ends with `Infinity`. Finite bounds are > 0 and
 * strictly ascending.
 */
export interface LatencyBuckets {
  bucketsMs: readonly number[];
  counts: readonly number[];
}

/**
 * Counters of one colour, cumulative since the router started (use {@link diffCounters} to get a
 * window) or already a window's deltas (what {@link analyse} expects).
 *
 * - `requests`: every request routed to the colour.
 * - `byClass`: responses that came FROM THE APP, by status class.
 * - `failed`: responses the router made itself because the app could not answer (502/504). They
 *   must NOT also be counted in `byClass['5xx']`, or errors are counted twice.
 * - `latency`: may hold fewer samples than `requests` (e.g. requests still in flight); percentiles
 *   come from the histogram's own total.
 */
export interface CounterWindow {
  requests: number;
  byClass: Readonly<Record<StatusClass, number>>;
  failed: number;
  latency: LatencyBuckets;
  /**
   * Identifies the counter series, e.g. the router process's start time. Optional, but without it a
   * reset is detected only when a counter went down, which misses a restart followed by more
   * traffic than before it.
   */
  epoch?: string | number | undefined;
}

/** Limits of the bake analysis. Rates are fractions (0.05 = 5 %); every limit is inclusive. */
export interface AnalysisThresholds {
  /** Candidate requests needed before any verdict; fewer gives `inconclusive`. Integer ≥ 1. */
  minRequests: number;
  /** Largest acceptable candidate error rate; errors are 5xx plus router-made failures, not 4xx. */
  maxErrorRate: number;
  /** Largest acceptable absolute increase of the error rate over the baseline's. */
  maxErrorRateIncrease: number;
  /** Largest acceptable candidate p95, in ms; no absolute p95 rule when absent. */
  maxP95Ms?: number | undefined;
  /** Largest acceptable candidate p99, in ms; no absolute p99 rule when absent. */
  maxP99Ms?: number | undefined;
  /** Largest acceptable candidate/baseline ratio of p95 and of p99; ≥ 1. */
  maxLatencyRatio: number;
  /**
   * A ratio breach also needs the candidate to be slower by more than this many ms: at a few ms,
   * bucket widths and scheduling noise make 1.5× meaningless (9.5 ms against 15 ms). ≥ 0.
   */
  minLatencyIncreaseMs: number;
  /** Baseline requests needed for the relative rules to apply. Integer ≥ 1. */
  minBaselineRequests: number;
}

/** Thresholds used for any field the caller leaves out. */
export const DEFAULT_ANALYSIS_THRESHOLDS: Readonly<AnalysisThresholds> = Object.freeze({
  minRequests: 100,
  maxErrorRate: 0.05,
  maxErrorRateIncrease: 0.02,
  maxLatencyRatio: 1.5,
  minLatencyIncreaseMs: 50,
  minBaselineRequests: 50,
});

/** Names of the analysis rules, as they appear in reasons and audit entries. */
export type AnalysisRule =
  | 'min-requests'
  | 'error-rate'
  | 'p95'
  | 'p99'
  | 'baseline'
  | 'error-rate-increase'
  | 'p95-ratio'
  | 'p99-ratio';

/**
 * Why the verdict is what it is. `breach` makes the verdict `fail`; `insufficient` makes it
 * `inconclusive`; `info` records a rule that was not evaluated (and why) without affecting it.
 */
export interface AnalysisReason {
  rule: AnalysisRule;
  kind: 'breach' | 'insufficient' | 'info';
  message: string;
  observed: number;
  limit: number;
}

/**
 * A percentile read from a histogram. `overflow` means it lies in the +Inf bucket: the true value
 * is above `ms`, the largest finite bound, and rules treat it as exceeding any limit.
 */
export interface Percentile {
  ms: number;
  overflow: boolean;
}

/** The figures of one colour that the decision used. */
export interface ColorSnapshot {
  requests: number;
  errors: number;
  /** `null` when the colour had no request. */
  errorRate: number | null;
  latencySamples: number;
  /** `null` when the histogram is empty. */
  p95: Percentile | null;
  p99: Percentile | null;
}

/** Everything behind a verdict, meant to be written as is into the audit entry. */
export interface AnalysisSnapshot {
  candidate: ColorSnapshot;
  baseline: ColorSnapshot | null;
  /** Whether the baseline was large enough for the relative rules. */
  relativeRules: boolean;
  thresholds: AnalysisThresholds;
}

/** Verdict of one analysis of the bake window so far. */
export interface Analysis {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: AnalysisReason[];
  snapshot: AnalysisSnapshot;
}

/** Input of {@link analyse}: window deltas of the new colour and of the old colour. */
export interface AnalysisInput {
  candidate: CounterWindow;
  /**
   * The old colour over a comparable window; `null` when there is none (first deployment). With an
   * all-at-once cutover the old colour gets no traffic after the flip, so pass its counters over a
   * window of the same length just before the flip.
   */
  baseline: CounterWindow | null;
}

const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];
// Quantiles as parts per million keep the rank arithmetic in integers, so scaling every count by
// k gives bit-identical percentiles (the verdict cannot flicker with traffic volume alone).
const PPM = 1_000_000;
const EPSILON = 1e-9;

function exceeds(observed: number, limit: number): boolean {
  // Tolerance so that 7/100 − 5/100 does not breach a 0.02 limit through float rounding alone.
  return observed > limit + EPSILON * Math.max(1, Math.abs(limit));
}

function finiteBoundCount(h: LatencyBuckets): number {
  return h.bucketsMs.at(-1) === Infinity ? h.bucketsMs.length - 1 : h.bucketsMs.length;
}

function checkCount(value: unknown, path: string, issues: FieldIssue[]): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    issues.push({ path, message: `must be a non-negative integer, got ${String(value)}` });
  }
}

function histogramIssues(h: LatencyBuckets, path: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const finite = finiteBoundCount(h);
  if (finite < 1) issues.push({ path: `${path}.bucketsMs`, message: 'needs at least one finite bound' });
  for (let i = 0; i < finite; i++) {
    const b = h.bucketsMs[i]!;
    const prev = i === 0 ? 0 : h.bucketsMs[i - 1]!;
    if (!Number.isFinite(b) || b <= prev) {
      issues.push({
        path: `${path}.bucketsMs[${i}]`,
        message: 'bounds must be finite, > 0 and strictly ascending',
      });
    }
  }
  if (h.counts.length !== finite + 1) {
    issues.push({
      path: `${path}.counts`,
      message: `needs one count per bucket plus the +Inf bucket (${finite + 1}), got ${h.counts.length}`,
    });
  }
  h.counts.forEach((c, i) => checkCount(c, `${path}.counts[${i}]`, issues));
  return issues;
}

function countersIssues(c: CounterWindow, path: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  checkCount(c.requests, `${path}.requests`, issues);
  checkCount(c.failed, `${path}.failed`, issues);
  for (const k of STATUS_CLASSES) checkCount(c.byClass[k], `${path}.byClass.${k}`, issues);
  issues.push(...histogramIssues(c.latency, `${path}.latency`));
  return issues;
}

/**
 * The `q` quantile (0 < q ≤ 1) of a histogram, interpolated linearly inside the bucket that holds
 * the rank `q × total` (as Prometheus' `histogram_quantile`). In the +Inf bucket it returns the
 * largest finite bound with `overflow: true`. `null` for an empty histogram.
 * Throws VALIDATION_FAILED on a malformed histogram or quantile.
 */
export function histogramQuantile(h: LatencyBuckets, q: number): Percentile | null {
  const issues = histogramIssues(h, 'histogram');
  if (!(q > 0 && q <= 1)) issues.push({ path: 'q', message: `must be in (0, 1], got ${q}` });
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'latency histogram', issues);
  return quantile(h, Math.round(q * PPM));
}

function quantile(h: LatencyBuckets, qPpm: number): Percentile | null {
  let total = 0;
  for (const c of h.counts) total += c;
  if (total === 0) return null;
  const finite = finiteBoundCount(h);
  const target = qPpm * total;
  let before = 0;
  for (let i = 0; i < finite; i++) {
    const count = h.counts[i]!;
    if ((before + count) * PPM >= target) {
      // count > 0 here: otherwise the previous bucket (or none, as target > 0) would have matched.
      const lower = i === 0 ? 0 : h.bucketsMs[i - 1]!;
      const upper = h.bucketsMs[i]!;
      return { ms: lower + ((upper - lower) * (target - before * PPM)) / (count * PPM), overflow: false };
    }
    before += count;
  }
  return { ms: h.bucketsMs[finite - 1]!, overflow: true };
}

function snapshotOf(c: CounterWindow): ColorSnapshot {
  const errors = c.byClass['5xx'] + c.failed;
  let latencySamples = 0;
  for (const n of c.latency.counts) latencySamples += n;
  return {
    requests: c.requests,
    errors,
    errorRate: c.requests === 0 ? null : errors / c.requests,
    latencySamples,
    p95: quantile(c.latency, 950_000),
    p99: quantile(c.latency, 990_000),
  };
}

/** Fills the defaults in and validates; throws VALIDATION_FAILED listing every bad field. */
export function resolveThresholds(partial: Partial<AnalysisThresholds> = {}): AnalysisThresholds {
  const t: AnalysisThresholds = { ...DEFAULT_ANALYSIS_THRESHOLDS };
  for (const [k, v] of Object.entries(partial))
    if (v !== undefined) (t as unknown as Record<string, unknown>)[k] = v;
  const issues: FieldIssue[] = [];
  for (const k of ['minRequests', 'minBaselineRequests'] as const) {
    if (!Number.isSafeInteger(t[k]) || t[k] < 1) issues.push({ path: k, message: 'must be an integer ≥ 1' });
  }
  for (const k of ['maxErrorRate', 'maxErrorRateIncrease'] as const) {
    if (!(t[k] >= 0 && t[k] <= 1)) issues.push({ path: k, message: 'must be a fraction between 0 and 1' });
  }
  // Below 1 would demand a faster release than the old one: every equal release would roll back.
  if (!(t.maxLatencyRatio >= 1 && Number.isFinite(t.maxLatencyRatio))) {
    issues.push({ path: 'maxLatencyRatio', message: 'must be a finite number ≥ 1' });
  }
  if (!(t.minLatencyIncreaseMs >= 0 && Number.isFinite(t.minLatencyIncreaseMs))) {
    issues.push({ path: 'minLatencyIncreaseMs', message: 'must be a finite number of ms ≥ 0' });
  }
  for (const k of ['maxP95Ms', 'maxP99Ms'] as const) {
    const v = t[k];
    if (v !== undefined && !(v > 0 && Number.isFinite(v)))
      issues.push({ path: k, message: 'must be a finite number of ms > 0' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'analysis thresholds', issues);
  return t;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const ms = (p: Percentile): string => `${p.overflow ? '> ' : ''}${Number(p.ms.toFixed(3))} ms`;

function absoluteLatency(
  rule: 'p95' | 'p99',
  p: Percentile | null,
  limit: number | undefined,
): AnalysisReason[] {
  if (limit === undefined) return [];
  if (p === null) {
    return [
      { rule, kind: 'info', message: `no latency samples; ${rule} limit not evaluated`, observed: 0, limit },
    ];
  }
  if (!p.overflow && !exceeds(p.ms, limit)) return [];
  return [
    {
      rule,
      kind: 'breach',
      message: `candidate ${rule} ${ms(p)} exceeds ${limit} ms`,
      observed: p.ms,
      limit,
    },
  ];
}

function relativeLatency(
  rule: 'p95-ratio' | 'p99-ratio',
  cand: Percentile | null,
  base: Percentile | null,
  limit: number,
  minIncreaseMs: number,
): AnalysisReason[] {
  const name = rule.slice(0, 3);
  if (cand === null || base === null) {
    return [
      {
        rule,
        kind: 'info',
        message: `no latency samples on one colour; ${name} ratio not evaluated`,
        observed: 0,
        limit,
      },
    ];
  }
  const observed = cand.ms / base.ms;
  if (cand.overflow && base.overflow) {
    return [
      {
        rule,
        kind: 'info',
        message: `both ${name} beyond the largest bucket; ratio not evaluated`,
        observed,
        limit,
      },
    ];
  }
  // Candidate overflow: its true value is above cand.ms, so the ratio is at least `observed` and
  // unbounded. Baseline overflow alone: `observed` is an upper bound, so passing it is conclusive.
  if (!cand.overflow && (!exceeds(observed, limit) || cand.ms - base.ms <= minIncreaseMs)) return [];
  return [
    {
      rule,
      kind: 'breach',
      message: `candidate ${name} ${ms(cand)} is ${cand.overflow ? 'at least ' : ''}${observed.toFixed(2)}× the baseline's ${ms(base)} (limit ${limit}×)`,
      observed,
      limit,
    },
  ];
}

/**
 * Judges the bake window so far. Pure: no I/O, no clock.
 *
 * 1. Fewer than `minRequests` candidate requests → `inconclusive`, and no other rule is evaluated:
 *    a small sample neither passes nor fails (so `inconclusive` ⇔ too few requests).
 * 2. Absolute rules: error rate (5xx + router failures; 4xx are the client's), p95, p99.
 * 3. Relative rules, only when the baseline has ≥ `minBaselineRequests`: error-rate increase,
 *    p95 and p99 ratios. Otherwise an `info` reason says they were skipped.
 * 4. Any breach → `fail`; else `pass`. Values exactly at a limit pass.
 *
 * Throws VALIDATION_FAILED on malformed counters or thresholds (a caller bug, not a verdict).
 */
export function analyse(input: AnalysisInput, thresholds: Partial<AnalysisThresholds> = {}): Analysis {
  const t = resolveThresholds(thresholds);
  const issues = countersIssues(input.candidate, 'candidate');
  if (input.baseline) issues.push(...countersIssues(input.baseline, 'baseline'));
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'analysis counters', issues);

  const cand = snapshotOf(input.candidate);
  const base = input.baseline ? snapshotOf(input.baseline) : null;
  const relativeRules = base !== null && base.requests >= t.minBaselineRequests;
  const snapshot: AnalysisSnapshot = { candidate: cand, baseline: base, relativeRules, thresholds: t };

  if (cand.requests < t.minRequests) {
    const message = `only ${cand.requests} of the ${t.minRequests} candidate requests needed for a verdict`;
    return {
      verdict: 'inconclusive',
      reasons: [
        {
          rule: 'min-requests',
          kind: 'insufficient',
          message,
          observed: cand.requests,
          limit: t.minRequests,
        },
      ],
      snapshot,
    };
  }

  // minRequests ≥ 1, so the candidate rate exists here.
  const candRate = cand.errorRate ?? 0;
  const reasons: AnalysisReason[] = [];
  if (exceeds(candRate, t.maxErrorRate)) {
    reasons.push({
      rule: 'error-rate',
      kind: 'breach',
      message: `candidate error rate ${pct(candRate)} (${cand.errors}/${cand.requests}) exceeds ${pct(t.maxErrorRate)}`,
      observed: candRate,
      limit: t.maxErrorRate,
    });
  }
  reasons.push(...absoluteLatency('p95', cand.p95, t.maxP95Ms));
  reasons.push(...absoluteLatency('p99', cand.p99, t.maxP99Ms));

  if (!relativeRules) {
    reasons.push({
      rule: 'baseline',
      kind: 'info',
      message: base
        ? `baseline has ${base.requests} of the ${t.minBaselineRequests} requests needed; relative rules skipped`
        : 'no baseline colour; relative rules skipped',
      observed: base?.requests ?? 0,
      limit: t.minBaselineRequests,
    });
  } else {
    const increase = candRate - (base.errorRate ?? 0);
    if (exceeds(increase, t.maxErrorRateIncrease)) {
      reasons.push({
        rule: 'error-rate-increase',
        kind: 'breach',
        message: `candidate error rate ${pct(candRate)} is ${pct(increase)} above the baseline's ${pct(base.errorRate ?? 0)} (limit +${pct(t.maxErrorRateIncrease)})`,
        observed: increase,
        limit: t.maxErrorRateIncrease,
      });
    }
    reasons.push(...relativeLatency('p95-ratio', cand.p95, base.p95, t.maxLatencyRatio, t.minLatencyIncreaseMs));
    reasons.push(...relativeLatency('p99-ratio', cand.p99, base.p99, t.maxLatencyRatio, t.minLatencyIncreaseMs));
  }

  return { verdict: reasons.some((r) => r.kind === 'breach') ? 'fail' : 'pass', reasons, snapshot };
}

/**
 * The window's deltas between two readings of the same colour's cumulative counters.
 *
 * A router restart (the agent upgrades itself without downtime) starts its counters from zero, and
 * may bring another bucket layout: when the epochs or layouts differ, or any counter went down,
 * the counters were reset after `atFlip`, and `now` alone is what the window saw since (as
 * Prometheus' `increase()` does). That under-counts the window, which can only delay a verdict.
 * Throws VALIDATION_FAILED on malformed counters.
 */
export function diffCounters(now: CounterWindow, atFlip: CounterWindow): CounterWindow {
  const issues = [...countersIssues(now, 'now'), ...countersIssues(atFlip, 'atFlip')];
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'counters', issues);
  const sameSeries =
    now.epoch === atFlip.epoch &&
    now.latency.bucketsMs.length === atFlip.latency.bucketsMs.length &&
    now.latency.bucketsMs.every((b, i) => b === atFlip.latency.bucketsMs[i]);
  const delta: CounterWindow = {
    requests: now.requests - atFlip.requests,
    byClass: {
      '1xx': now.byClass['1xx'] - atFlip.byClass['1xx'],
      '2xx': now.byClass['2xx'] - atFlip.byClass['2xx'],
      '3xx': now.byClass['3xx'] - atFlip.byClass['3xx'],
      '4xx': now.byClass['4xx'] - atFlip.byClass['4xx'],
      '5xx': now.byClass['5xx'] - atFlip.byClass['5xx'],
    },
    failed: now.failed - atFlip.failed,
    ...(now.epoch === undefined ? {} : { epoch: now.epoch }),
    latency: {
      bucketsMs: [...now.latency.bucketsMs],
      counts: sameSeries ? now.latency.counts.map((c, i) => c - atFlip.latency.counts[i]!) : [],
    },
  };
  const reset =
    !sameSeries ||
    delta.requests < 0 ||
    delta.failed < 0 ||
    STATUS_CLASSES.some((k) => delta.byClass[k] < 0) ||
    delta.latency.counts.some((c) => c < 0);
  if (!reset) return delta;
  return {
    requests: now.requests,
    byClass: { ...now.byClass },
    failed: now.failed,
    ...(now.epoch === undefined ? {} : { epoch: now.epoch }),
    latency: { bucketsMs: [...now.latency.bucketsMs], counts: [...now.latency.counts] },
  };
}

/** What the orchestrator does after an analysis during the bake. */
export type BakeAction = 'continue' | 'extend' | 'promote' | 'rollback';

/** Where the bake stands. */
export interface BakeProgress {
  /** Time since the flip. */
  elapsedMs: number;
  /** Planned bake window (default 5 minutes in the deploy config). */
  bakeMs: number;
  /**
   * How long an inconclusive bake may be extended past `bakeMs` waiting for enough traffic.
   * Defaults to 3 × `bakeMs`; set it to `bakeMs` for no extension.
   */
  maxBakeMs?: number | undefined;
  /** What to do when the bake is still inconclusive at `maxBakeMs`; default `promote`. */
  onInconclusive?: 'promote' | 'rollback' | undefined;
}

/**
 * Turns an analysis into an action. Pure.
 *
 * - `fail` → `rollback`, at once, whatever the time.
 * - before `bakeMs`: `continue` (a pass is not final until the window has run).
 * - from `bakeMs`: `pass` → `promote`; `inconclusive` → `extend` until `maxBakeMs`, then
 *   `onInconclusive`. An inconclusive bake never counts as a pass: when it ends in `promote`, the
 *   analysis verdict is still `inconclusive`, and the caller records the promotion as unverified.
 *   Promotion is the default because the new colour already serves everyone: rolling back every
 *   release of a quiet instance for lack of traffic would make quiet instances undeployable.
 *
 * Throws VALIDATION_FAILED on negative or inconsistent durations.
 */
export function bakeDecision(analysis: Pick<Analysis, 'verdict'>, progress: BakeProgress): BakeAction {
  const { elapsedMs, bakeMs } = progress;
  const maxBakeMs = progress.maxBakeMs ?? 3 * bakeMs;
  const issues: FieldIssue[] = [];
  if (!(elapsedMs >= 0)) issues.push({ path: 'elapsedMs', message: 'must be a number of ms ≥ 0' });
  if (!(bakeMs >= 0 && Number.isFinite(bakeMs)))
    issues.push({ path: 'bakeMs', message: 'must be a finite number of ms ≥ 0' });
  if (!(maxBakeMs >= bakeMs)) issues.push({ path: 'maxBakeMs', message: 'must be ≥ bakeMs' });
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'bake progress', issues);

  if (analysis.verdict === 'fail') return 'rollback';
  if (elapsedMs < bakeMs) return 'continue';
  if (analysis.verdict === 'pass') return 'promote';
  if (elapsedMs < maxBakeMs) return 'extend';
  return progress.onInconclusive ?? 'promote';
}
