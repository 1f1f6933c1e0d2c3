import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  analyse,
  bakeDecision,
  diffCounters,
  histogramQuantile,
  resolveThresholds,
  DEFAULT_ANALYSIS_THRESHOLDS,
} from './analysis.ts';
import type { Analysis, AnalysisThresholds, CounterWindow, StatusClass } from './analysis.ts';
import { isCutoverError } from '../shared/index.ts';

type Spec = Partial<Record<StatusClass, number>> & {
  failed?: number;
  extra?: number;
  bucketsMs?: number[];
  counts?: number[];
};

/** Counters whose `requests` is the sum of every response; latency all in the first bucket unless given. */
function counters(spec: Spec): CounterWindow {
  const byClass = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, ...pick(spec) };
  const failed = spec.failed ?? 0;
  const requests = Object.values(byClass).reduce((a, b) => a + b, 0) + failed + (spec.extra ?? 0);
  const bucketsMs = spec.bucketsMs ?? [10, 50, 100, 500];
  const counts = spec.counts ?? [requests, ...Array<number>(bucketsMs.length).fill(0)];
  return { requests, byClass, failed, latency: { bucketsMs, counts } };
}

function pick(spec: Spec): Partial<Record<StatusClass, number>> {
  const out: Partial<Record<StatusClass, number>> = {};
  for (const k of ['1xx', '2xx', '3xx', '4xx', '5xx'] as const) if (spec[k] !== undefined) out[k] = spec[k];
  return out;
}

const rules = (a: Analysis, kind = 'breach'): string[] =>
  a.reasons.filter((r) => r.kind === kind).map((r) => r.rule);
const healthyBaseline = (): CounterWindow => counters({ '2xx': 1000 });

function assertInvalid(fn: () => unknown, ...paths: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCutoverError(e));
    assert.equal(e.code, 'VALIDATION_FAILED');
    const got = (e.details['issues'] as { path: string }[]).map((i) => i.path);
    for (const p of paths) assert.ok(got.includes(p), `expected an issue at ${p}, got ${got.join(', ')}`);
    return true;
  });
}

describe('histogramQuantile', () => {
  test('interpolates linearly inside the bucket, from 0 in the first', () => {
    const h = { bucketsMs: [10, 20], counts: [100, 0, 0] };
    assert.deepEqual(histogramQuantile(h, 0.95), { ms: 9.5, overflow: false });
    assert.deepEqual(histogramQuantile(h, 0.99), { ms: 9.9, overflow: false });
  });

  test('interpolates from the previous bound in later buckets', () => {
    const h = { bucketsMs: [10, 20], counts: [50, 50, 0] };
    assert.deepEqual(histogramQuantile(h, 0.95), { ms: 19, overflow: false });
    assert.deepEqual(histogramQuantile(h, 0.99), { ms: 19.8, overflow: false });
    assert.deepEqual(histogramQuantile(h, 0.5), { ms: 10, overflow: false });
  });

  test('a rank exactly at a bucket end gives its upper bound, and empty buckets are skipped', () => {
    assert.deepEqual(histogramQuantile({ bucketsMs: [10, 20], counts: [95, 5, 0] }, 0.95), {
      ms: 10,
      overflow: false,
    });
    assert.deepEqual(histogramQuantile({ bucketsMs: [10, 20, 40], counts: [0, 0, 10, 0] }, 0.5), {
      ms: 30,
      overflow: false,
    });
    assert.deepEqual(histogramQuantile({ bucketsMs: [10, 20], counts: [3, 7, 0] }, 1), {
      ms: 20,
      overflow: false,
    });
  });

  test('the +Inf bucket reports the last finite bound, marked as overflow', () => {
    const h = { bucketsMs: [10, 20], counts: [90, 0, 10] };
    assert.deepEqual(histogramQuantile(h, 0.95), { ms: 20, overflow: true });
    assert.equal(histogramQuantile(h, 0.5)?.overflow, false);
  });

  test('accepts a layout that ends with Infinity, with the same result', () => {
    const a = histogramQuantile({ bucketsMs: [10, 20], counts: [50, 40, 10] }, 0.95);
    const b = histogramQuantile({ bucketsMs: [10, 20, Infinity], counts: [50, 40, 10] }, 0.95);
    assert.deepEqual(a, b);
    assert.deepEqual(a, { ms: 20, overflow: true });
  });

  test('an empty histogram has no percentile', () => {
    assert.equal(histogramQuantile({ bucketsMs: [10], counts: [0, 0] }, 0.95), null);
  });

  test('rejects malformed histograms and quantiles, naming every problem', () => {
    assertInvalid(
      () => histogramQuantile({ bucketsMs: [10, 10], counts: [1, 1, 1] }, 0.5),
      'histogram.bucketsMs[1]',
    );
    assertInvalid(
      () => histogramQuantile({ bucketsMs: [0, 10], counts: [1, 1, 1] }, 0.5),
      'histogram.bucketsMs[0]',
    );
    assertInvalid(
      () => histogramQuantile({ bucketsMs: [10, Infinity, 20], counts: [1, 1, 1] }, 0.5),
      'histogram.bucketsMs[1]',
    );
    assertInvalid(() => histogramQuantile({ bucketsMs: [10], counts: [1] }, 0.5), 'histogram.counts');
    assertInvalid(() => histogramQuantile({ bucketsMs: [], counts: [1] }, 0.5), 'histogram.bucketsMs');
    assertInvalid(
      () => histogramQuantile({ bucketsMs: [10], counts: [-1, 0.5] }, 0),
      'histogram.counts[0]',
      'histogram.counts[1]',
      'q',
    );
    assertInvalid(() => histogramQuantile({ bucketsMs: [10], counts: [1, 0] }, 1.5), 'q');
  });
});

describe('analyse: sample size', () => {
  test('no traffic at all is inconclusive, with no rate', () => {
    const a = analyse({ candidate: counters({}), baseline: null });
    assert.equal(a.verdict, 'inconclusive');
    assert.deepEqual(a.reasons, [
      {
        rule: 'min-requests',
        kind: 'insufficient',
        message: 'only 0 of the 100 candidate requests needed for a verdict',
        observed: 0,
        limit: 100,
      },
    ]);
    assert.equal(a.snapshot.candidate.errorRate, null);
    assert.equal(a.snapshot.candidate.p95, null);
  });

  test('one request short is inconclusive even when every request failed', () => {
    const a = analyse({ candidate: counters({ '5xx': 60, failed: 39 }), baseline: healthyBaseline() });
    assert.equal(a.verdict, 'inconclusive');
    assert.deepEqual(rules(a, 'insufficient'), ['min-requests']);
    assert.deepEqual(rules(a), [], 'no rule is judged on a small sample');
    assert.equal(a.snapshot.candidate.errorRate, 1, 'the snapshot still shows the figures');
  });

  test('exactly minRequests gives a verdict', () => {
    assert.equal(
      analyse({ candidate: counters({ '2xx': 100 }), baseline: healthyBaseline() }).verdict,
      'pass',
    );
    assert.equal(
      analyse({ candidate: counters({ '2xx': 9 }), baseline: null }, { minRequests: 10 }).verdict,
      'inconclusive',
    );
    assert.equal(
      analyse({ candidate: counters({ '2xx': 10 }), baseline: null }, { minRequests: 10 }).verdict,
      'pass',
    );
  });

  test('requests counted but not yet answered count toward the sample and the denominator', () => {
    const a = analyse({ candidate: counters({ '2xx': 90, '5xx': 5, extra: 5 }), baseline: null });
    assert.equal(a.snapshot.candidate.requests, 100);
    assert.equal(a.snapshot.candidate.errorRate, 0.05);
    assert.equal(a.verdict, 'pass');
  });
});

describe('analyse: absolute error rate', () => {
  test('exactly at the limit passes, one more error fails', () => {
    const at = analyse({ candidate: counters({ '2xx': 95, '5xx': 5 }), baseline: null });
    assert.equal(at.verdict, 'pass');
    const over = analyse({ candidate: counters({ '2xx': 94, '5xx': 6 }), baseline: null });
    assert.equal(over.verdict, 'fail');
    assert.deepEqual(rules(over), ['error-rate']);
    const reason = over.reasons.find((r) => r.rule === 'error-rate')!;
    assert.equal(reason.observed, 0.06);
    assert.equal(reason.limit, 0.05);
    assert.match(reason.message, /6\.00% \(6\/100\) exceeds 5\.00%/);
  });

  test('router-made failures are errors, added to the app 5xx', () => {
    const a = analyse({ candidate: counters({ '2xx': 94, '5xx': 3, failed: 3 }), baseline: null });
    assert.equal(a.verdict, 'fail');
    assert.equal(a.snapshot.candidate.errors, 6);
    assert.equal(analyse({ candidate: counters({ '2xx': 94, failed: 6 }), baseline: null }).verdict, 'fail');
  });

  test("4xx are the client's errors, not the release's", () => {
    const a = analyse({ candidate: counters({ '4xx': 1000 }), baseline: healthyBaseline() });
    assert.equal(a.verdict, 'pass');
    assert.equal(a.snapshot.candidate.errorRate, 0);
  });

  test('1xx and 3xx are not errors either', () => {
    assert.equal(analyse({ candidate: counters({ '1xx': 50, '3xx': 50 }), baseline: null }).verdict, 'pass');
  });

  test('a zero limit fails on the first error', () => {
    assert.equal(
      analyse({ candidate: counters({ '2xx': 999, '5xx': 1 }), baseline: null }, { maxErrorRate: 0 }).verdict,
      'fail',
    );
    assert.equal(
      analyse({ candidate: counters({ '2xx': 1000 }), baseline: null }, { maxErrorRate: 0 }).verdict,
      'pass',
    );
  });
});

describe('analyse: baseline and relative rules', () => {
  // Baseline 29/1000 = 2.9 %; candidate 5/100 = 5 %: under the absolute 5 %, but +2.1 % over the baseline.
  const slightlyWorse = (): CounterWindow => counters({ '2xx': 95, '5xx': 5 });
  const baseline29 = (): CounterWindow => counters({ '2xx': 971, '5xx': 29 });

  test('an error-rate increase alone fails', () => {
    const a = analyse({ candidate: slightlyWorse(), baseline: baseline29() });
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['error-rate-increase']);
    const r = a.reasons[0]!;
    assert.ok(Math.abs(r.observed - 0.021) < 1e-12);
    assert.equal(r.limit, 0.02);
    assert.equal(a.snapshot.relativeRules, true);
  });

  test('an increase exactly at the limit passes despite float rounding (0.07 − 0.05)', () => {
    const a = analyse(
      { candidate: counters({ '2xx': 93, '5xx': 7 }), baseline: counters({ '2xx': 95, '5xx': 5 }) },
      { maxErrorRate: 0.1 },
    );
    assert.ok(0.07 - 0.05 > 0.02, 'the float difference is above the limit');
    assert.equal(a.verdict, 'pass');
  });

  test('a baseline one request short of minBaselineRequests skips the relative rules, and says so', () => {
    const small = counters({ '2xx': 49 });
    const a = analyse({ candidate: counters({ '2xx': 95, '5xx': 5 }), baseline: small });
    assert.equal(a.verdict, 'pass');
    assert.equal(a.snapshot.relativeRules, false);
    assert.deepEqual(a.reasons, [
      {
        rule: 'baseline',
        kind: 'info',
        message: 'baseline has 49 of the 50 requests needed; relative rules skipped',
        observed: 49,
        limit: 50,
      },
    ]);
    const enough = analyse({
      candidate: counters({ '2xx': 95, '5xx': 5 }),
      baseline: counters({ '2xx': 50 }),
    });
    assert.equal(enough.verdict, 'fail');
    assert.deepEqual(rules(enough), ['error-rate-increase']);
  });

  test('a baseline with zero requests, or none at all, leaves only the absolute rules', () => {
    for (const baseline of [counters({}), null]) {
      const a = analyse({ candidate: counters({ '2xx': 95, '5xx': 5 }), baseline }, { maxP95Ms: 100 });
      assert.equal(a.verdict, 'pass');
      assert.deepEqual(rules(a, 'info'), ['baseline']);
      assert.equal(a.snapshot.relativeRules, false);
    }
    assert.match(
      analyse({ candidate: counters({ '2xx': 100 }), baseline: null }).reasons[0]!.message,
      /no baseline colour/,
    );
    assert.equal(
      analyse({ candidate: counters({ '2xx': 100 }), baseline: counters({}) }).snapshot.baseline?.errorRate,
      null,
    );
  });

  test('an absolute breach still fails when the baseline is too small', () => {
    const a = analyse({ candidate: counters({ '2xx': 90, '5xx': 10 }), baseline: counters({ '2xx': 3 }) });
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['error-rate']);
  });

  test('a baseline as bad as the candidate does not excuse an absolute breach', () => {
    const a = analyse({
      candidate: counters({ '2xx': 90, '5xx': 10 }),
      baseline: counters({ '2xx': 900, '5xx': 100 }),
    });
    assert.deepEqual(rules(a), ['error-rate']);
  });

  test('a candidate better than its baseline passes the increase rule', () => {
    const a = analyse({ candidate: counters({ '2xx': 100 }), baseline: counters({ '2xx': 960, '5xx': 40 }) });
    assert.equal(a.verdict, 'pass');
    assert.deepEqual(a.reasons, []);
  });
});

describe('analyse: latency', () => {
  // All samples in the first bucket: p95 = 0.95 × bound, p99 = 0.99 × bound.
  const fast = (bound: number, n = 1000): CounterWindow =>
    counters({ '2xx': n, bucketsMs: [bound, 1000], counts: [n, 0, 0] });

  test('absolute p95: exactly at the limit passes, above fails (latency only)', () => {
    assert.equal(analyse({ candidate: fast(100), baseline: null }, { maxP95Ms: 95 }).verdict, 'pass');
    const a = analyse({ candidate: fast(100), baseline: null }, { maxP95Ms: 94.9 });
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['p95']);
    assert.equal(a.reasons[0]!.observed, 95);
    assert.equal(a.snapshot.candidate.errorRate, 0);
  });

  test('absolute p99 alone', () => {
    assert.equal(analyse({ candidate: fast(100), baseline: null }, { maxP99Ms: 99 }).verdict, 'pass');
    const a = analyse({ candidate: fast(100), baseline: null }, { maxP95Ms: 96, maxP99Ms: 98 });
    assert.deepEqual(rules(a), ['p99']);
  });

  test('no absolute latency rule unless a limit is set', () => {
    const slow = counters({ '2xx': 100, bucketsMs: [10], counts: [0, 100] });
    assert.equal(analyse({ candidate: slow, baseline: null }).verdict, 'pass');
  });

  test('a percentile beyond the largest bucket breaches any limit, even one above that bucket', () => {
    const slow = counters({ '2xx': 100, bucketsMs: [10, 100], counts: [90, 0, 10] });
    const a = analyse({ candidate: slow, baseline: null }, { maxP95Ms: 5000 });
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['p95']);
    assert.match(a.reasons[0]!.message, /> 100 ms exceeds 5000 ms/);
    assert.deepEqual(a.snapshot.candidate.p95, { ms: 100, overflow: true });
  });

  test('a latency limit with no latency sample is reported, not judged', () => {
    const c = counters({ '2xx': 100, counts: [0, 0, 0, 0, 0] });
    const a = analyse({ candidate: c, baseline: null }, { maxP95Ms: 10 });
    assert.equal(a.verdict, 'pass');
    assert.deepEqual(rules(a, 'info'), ['p95', 'baseline']);
  });

  test('ratio exactly 1.5× the baseline passes; above fails on p95 and p99', () => {
    // 14.25 / 9.5 and 14.85 / 9.9 are exactly 1.5. No minimum increase here: the ratio alone.
    const exact = { minLatencyIncreaseMs: 0 };
    assert.equal(analyse({ candidate: fast(15), baseline: fast(10) }, exact).verdict, 'pass');
    const a = analyse({ candidate: fast(16), baseline: fast(10) }, exact);
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['p95-ratio', 'p99-ratio']);
    assert.ok(Math.abs(a.reasons[0]!.observed - 1.6) < 1e-12);
    assert.equal(a.reasons[0]!.limit, 1.5);
    // With the default minimum increase (50 ms), 1.6× of ~10 ms is noise, not a breach.
    assert.equal(analyse({ candidate: fast(16), baseline: fast(10) }).verdict, 'pass');
  });

  test('only the tail got slower: p99 ratio alone', () => {
    // 97 % at ≤10 ms, 3 % in (10, 100]: p95 in the first bucket, p99 far in the second.
    const cand = counters({ '2xx': 1000, bucketsMs: [10, 100], counts: [970, 30, 0] });
    const base = counters({ '2xx': 1000, bucketsMs: [10, 100], counts: [1000, 0, 0] });
    const a = analyse({ candidate: cand, baseline: base });
    assert.deepEqual(rules(a), ['p99-ratio']);
  });

  test('relative latency needs the baseline sample size too', () => {
    const a = analyse({ candidate: fast(16), baseline: fast(10, 49) });
    assert.equal(a.verdict, 'pass');
  });

  test('candidate beyond the largest bucket fails the ratio; both beyond is not judged; baseline beyond alone passes', () => {
    const over = (): CounterWindow => counters({ '2xx': 100, bucketsMs: [10, 20], counts: [0, 0, 100] });
    const ok = (): CounterWindow => counters({ '2xx': 100, bucketsMs: [10, 20], counts: [100, 0, 0] });
    const candOver = analyse({ candidate: over(), baseline: ok() });
    assert.deepEqual(rules(candOver), ['p95-ratio', 'p99-ratio']);
    assert.match(candOver.reasons[0]!.message, /at least/);
    const both = analyse({ candidate: over(), baseline: over() });
    assert.equal(both.verdict, 'pass');
    assert.deepEqual(rules(both, 'info'), ['p95-ratio', 'p99-ratio']);
    assert.equal(analyse({ candidate: ok(), baseline: over() }).verdict, 'pass');
  });

  test('ratio with no latency on one colour is reported, not judged', () => {
    const noLatency = counters({ '2xx': 100, counts: [0, 0, 0, 0, 0] });
    const a = analyse({ candidate: fast(10), baseline: noLatency });
    assert.equal(a.verdict, 'pass');
    assert.deepEqual(rules(a, 'info'), ['p95-ratio', 'p99-ratio']);
  });

  test('candidate and baseline may use different bucket layouts', () => {
    const cand = counters({ '2xx': 100, bucketsMs: [15], counts: [100, 0] });
    const base = counters({ '2xx': 100, bucketsMs: [5, 10, 20], counts: [0, 100, 0, 0] });
    // 14.25 / 9.75 ≈ 1.46
    assert.equal(analyse({ candidate: cand, baseline: base }).verdict, 'pass');
  });
});

describe('analyse: combinations and output', () => {
  test('every breached rule is listed, in a stable order', () => {
    const cand = counters({ '2xx': 80, '5xx': 20, bucketsMs: [10, 100, 1000], counts: [0, 0, 100, 0] });
    const a = analyse({ candidate: cand, baseline: healthyBaseline() }, { maxP95Ms: 500, maxP99Ms: 500 });
    assert.equal(a.verdict, 'fail');
    assert.deepEqual(rules(a), ['error-rate', 'p95', 'p99', 'error-rate-increase', 'p95-ratio', 'p99-ratio']);
  });

  test('a pass has no breach and no insufficiency', () => {
    const a = analyse(
      { candidate: counters({ '2xx': 500 }), baseline: healthyBaseline() },
      { maxP95Ms: 10, maxP99Ms: 10 },
    );
    assert.equal(a.verdict, 'pass');
    assert.deepEqual(a.reasons, []);
  });

  test('the snapshot holds the figures and the resolved thresholds, and survives JSON', () => {
    const cand = counters({ '2xx': 90, '5xx': 7, failed: 3, bucketsMs: [10, 20], counts: [50, 40, 10] });
    const a = analyse({ candidate: cand, baseline: healthyBaseline() }, { maxP99Ms: 30 });
    assert.deepEqual(a.snapshot.candidate, {
      requests: 100,
      errors: 10,
      errorRate: 0.1,
      latencySamples: 100,
      p95: { ms: 20, overflow: true },
      p99: { ms: 20, overflow: true },
    });
    assert.equal(a.snapshot.baseline?.requests, 1000);
    assert.deepEqual(a.snapshot.thresholds, { ...DEFAULT_ANALYSIS_THRESHOLDS, maxP99Ms: 30 });
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
  });

  test('the inputs are not modified', () => {
    const cand = counters({ '2xx': 100 });
    const copy = structuredClone(cand);
    analyse({ candidate: cand, baseline: null });
    assert.deepEqual(cand, copy);
  });
});

describe('thresholds and counters validation', () => {
  test('defaults fill what is left out, undefined included', () => {
    assert.deepEqual(resolveThresholds(), { ...DEFAULT_ANALYSIS_THRESHOLDS });
    assert.deepEqual(resolveThresholds({ minRequests: undefined, maxP95Ms: 200 }), {
      ...DEFAULT_ANALYSIS_THRESHOLDS,
      maxP95Ms: 200,
    });
    assert.ok(Object.isFrozen(DEFAULT_ANALYSIS_THRESHOLDS));
    assert.deepEqual(DEFAULT_ANALYSIS_THRESHOLDS, {
      minRequests: 100,
      maxErrorRate: 0.05,
      maxErrorRateIncrease: 0.02,
      maxLatencyRatio: 1.5,
      minLatencyIncreaseMs: 50,
      minBaselineRequests: 50,
    } satisfies AnalysisThresholds);
  });

  test('bad thresholds are all reported at once', () => {
    assertInvalid(
      () =>
        resolveThresholds({
          minRequests: 0,
          minBaselineRequests: 2.5,
          maxErrorRate: 1.1,
          maxErrorRateIncrease: -0.1,
          maxLatencyRatio: 0.9,
          maxP95Ms: 0,
          maxP99Ms: Number.NaN,
        }),
      'minRequests',
      'minBaselineRequests',
      'maxErrorRate',
      'maxErrorRateIncrease',
      'maxLatencyRatio',
      'maxP95Ms',
      'maxP99Ms',
    );
    assertInvalid(
      () => analyse({ candidate: counters({}), baseline: null }, { maxLatencyRatio: Infinity }),
      'maxLatencyRatio',
    );
  });

  test('bad counters are reported by path, on both colours', () => {
    const bad = counters({ '2xx': 10 });
    const worse = { ...bad, requests: -1, failed: Number.NaN, byClass: { ...bad.byClass, '5xx': 1.5 } };
    assertInvalid(
      () =>
        analyse({ candidate: worse, baseline: { ...bad, latency: { bucketsMs: [10, 5], counts: [0, 0] } } }),
      'candidate.requests',
      'candidate.failed',
      'candidate.byClass.5xx',
      'baseline.latency.bucketsMs[1]',
      'baseline.latency.counts',
    );
  });
});

describe('diffCounters', () => {
  const reading = (n: number, epoch?: string): CounterWindow => ({
    ...counters({
      '2xx': 10 * n,
      '4xx': n,
      '5xx': n,
      failed: n,
      bucketsMs: [10, 100],
      counts: [12 * n, n, n],
    }),
    ...(epoch === undefined ? {} : { epoch }),
  });

  test('gives the deltas since the flip', () => {
    const d = diffCounters(reading(5), reading(2));
    assert.deepEqual(d, {
      requests: 39,
      byClass: { '1xx': 0, '2xx': 30, '3xx': 0, '4xx': 3, '5xx': 3 },
      failed: 3,
      latency: { bucketsMs: [10, 100], counts: [36, 3, 3] },
    });
    assert.deepEqual(diffCounters(reading(5, 'a'), reading(2, 'a')), { ...d, epoch: 'a' });
  });

  test('no change gives zeroes, and the result shares no array with the inputs', () => {
    const now = reading(3);
    const d = diffCounters(now, reading(3));
    assert.equal(d.requests, 0);
    assert.deepEqual(d.latency.counts, [0, 0, 0]);
    assert.notEqual(d.latency.bucketsMs, now.latency.bucketsMs);
  });

  test('a counter that went down means a reset: the window is what `now` saw', () => {
    assert.deepEqual(diffCounters(reading(1), reading(4)), reading(1));
    const onlyOneBucketDown = reading(4);
    const flip = structuredClone(onlyOneBucketDown);
    flip.latency = { bucketsMs: [10, 100], counts: [0, 0, 5 * 4] };
    assert.deepEqual(diffCounters(onlyOneBucketDown, flip), onlyOneBucketDown);
  });

  test('another bucket layout or another epoch means a reset', () => {
    const now = { ...reading(5), latency: { bucketsMs: [10, 50, 100], counts: [60, 0, 5, 5] } };
    assert.deepEqual(diffCounters(now, reading(2)), now);
    assert.deepEqual(diffCounters(reading(5, 'b'), reading(2, 'a')), reading(5, 'b'));
    assert.deepEqual(diffCounters(reading(5, 'b'), reading(2)), reading(5, 'b'));
  });

  test('the inputs are not modified', () => {
    const now = reading(5);
    const flip = reading(2);
    const copies = structuredClone([now, flip]);
    diffCounters(now, flip);
    diffCounters(flip, now);
    assert.deepEqual([now, flip], copies);
  });

  test('rejects malformed counters', () => {
    assertInvalid(() => diffCounters({ ...reading(1), requests: -3 }, reading(1)), 'now.requests');
  });
});

describe('bakeDecision', () => {
  const at = (
    verdict: Analysis['verdict'],
    elapsedMs: number,
    extra: { maxBakeMs?: number; onInconclusive?: 'promote' | 'rollback' } = {},
  ) => bakeDecision({ verdict }, { elapsedMs, bakeMs: 300_000, ...extra });

  test('a fail rolls back at once, at any time', () => {
    for (const t of [0, 1, 299_999, 300_000, 900_000, 10_000_000]) assert.equal(at('fail', t), 'rollback');
  });

  test('pass and inconclusive continue until the window ends', () => {
    for (const v of ['pass', 'inconclusive'] as const) {
      assert.equal(at(v, 0), 'continue');
      assert.equal(at(v, 299_999), 'continue');
    }
  });

  test('a pass at the end of the window (inclusive) promotes', () => {
    assert.equal(at('pass', 300_000), 'promote');
    assert.equal(at('pass', 5_000_000), 'promote');
  });

  test('inconclusive at the end extends, by default up to 3× the window, then promotes unverified', () => {
    assert.equal(at('inconclusive', 300_000), 'extend');
    assert.equal(at('inconclusive', 899_999), 'extend');
    assert.equal(at('inconclusive', 900_000), 'promote');
  });

  test('the extension and its outcome are configurable', () => {
    assert.equal(at('inconclusive', 300_000, { maxBakeMs: 300_000 }), 'promote');
    assert.equal(at('inconclusive', 400_000, { maxBakeMs: 400_000, onInconclusive: 'rollback' }), 'rollback');
    assert.equal(at('inconclusive', 399_999, { maxBakeMs: 400_000, onInconclusive: 'rollback' }), 'extend');
  });

  test('a zero-length bake decides on the first analysis', () => {
    assert.equal(bakeDecision({ verdict: 'pass' }, { elapsedMs: 0, bakeMs: 0 }), 'promote');
    assert.equal(bakeDecision({ verdict: 'inconclusive' }, { elapsedMs: 0, bakeMs: 0 }), 'promote');
  });

  test('takes a full analysis', () => {
    const a = analyse({ candidate: counters({ '2xx': 100 }), baseline: null });
    assert.equal(bakeDecision(a, { elapsedMs: 300_000, bakeMs: 300_000 }), 'promote');
  });

  test('rejects bad durations', () => {
    assertInvalid(() => at('pass', -1), 'elapsedMs');
    assertInvalid(() => at('pass', Number.NaN), 'elapsedMs');
    assertInvalid(() => bakeDecision({ verdict: 'pass' }, { elapsedMs: 0, bakeMs: -5 }), 'bakeMs');
    assertInvalid(() => at('pass', 0, { maxBakeMs: 1000 }), 'maxBakeMs');
  });
});
