import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyse, diffCounters, histogramQuantile } from './analysis.ts';
import type { AnalysisThresholds, CounterWindow, LatencyBuckets, StatusClass } from './analysis.ts';

const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000];
const CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

// The +Inf bucket is often empty, as in a histogram whose largest bound was chosen well.
const histogram: fc.Arbitrary<LatencyBuckets> = fc
  .tuple(
    fc.array(fc.nat({ max: 1000 }), { minLength: BUCKETS_MS.length, maxLength: BUCKETS_MS.length }),
    fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.nat({ max: 1000 }), weight: 1 }),
  )
  .map(([finite, overflow]) => ({ bucketsMs: BUCKETS_MS, counts: [...finite, overflow] }));

// Skewed toward small values so that sample-size boundaries are hit often.
const count = fc.oneof(fc.nat({ max: 20 }), fc.nat({ max: 300 }), fc.nat({ max: 5000 }));
// Errors are usually few, so that passes and near-threshold rates are common too.
const errorCount = fc.oneof(
  { arbitrary: fc.constant(0), weight: 2 },
  { arbitrary: fc.nat({ max: 10 }), weight: 3 },
  { arbitrary: count, weight: 1 },
);

const colorCounters: fc.Arbitrary<CounterWindow> = fc
  .record({
    byClass: fc.record(
      { '1xx': fc.nat({ max: 5 }), '2xx': count, '3xx': count, '4xx': count, '5xx': errorCount },
      { noNullPrototype: true },
    ),
    failed: errorCount,
    extra: fc.nat({ max: 20 }),
    latency: histogram,
  })
  .map(({ byClass, failed, extra, latency }) => ({
    requests: CLASSES.reduce((n, k) => n + byClass[k], 0) + failed + extra,
    byClass,
    failed,
    latency,
  }));

const thresholds: fc.Arbitrary<Partial<AnalysisThresholds>> = fc.record(
  {
    minRequests: fc.integer({ min: 1, max: 600 }),
    maxErrorRate: fc.oneof(
      fc.constantFrom(0, 0.01, 0.05, 0.1, 1),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    maxErrorRateIncrease: fc.oneof(fc.constantFrom(0, 0.02, 0.5), fc.double({ min: 0, max: 1, noNaN: true })),
    maxP95Ms: fc.oneof(fc.constant(undefined), fc.double({ min: 1, max: 2000, noNaN: true })),
    maxP99Ms: fc.oneof(fc.constant(undefined), fc.double({ min: 1, max: 2000, noNaN: true })),
    maxLatencyRatio: fc.double({ min: 1, max: 4, noNaN: true }),
    minBaselineRequests: fc.integer({ min: 1, max: 600 }),
  },
  { requiredKeys: [] },
);

const baseline = fc.option(colorCounters, { nil: null });

function scale(c: CounterWindow, k: number): CounterWindow {
  const byClass = { ...c.byClass };
  for (const key of CLASSES) byClass[key] *= k;
  return {
    requests: c.requests * k,
    byClass,
    failed: c.failed * k,
    latency: { bucketsMs: c.latency.bucketsMs, counts: c.latency.counts.map((n) => n * k) },
  };
}

test('inconclusive if and only if the candidate has fewer than minRequests requests', () => {
  fc.assert(
    fc.property(colorCounters, baseline, thresholds, (candidate, base, t) => {
      const a = analyse({ candidate, baseline: base }, t);
      const min = t.minRequests ?? 100;
      assert.equal(a.verdict === 'inconclusive', candidate.requests < min);
    }),
    { numRuns: 500 },
  );
});

test('the verdict matches the reasons: fail iff a breach, inconclusive iff an insufficiency', () => {
  fc.assert(
    fc.property(colorCounters, baseline, thresholds, (candidate, base, t) => {
      const a = analyse({ candidate, baseline: base }, t);
      assert.equal(
        a.verdict === 'fail',
        a.reasons.some((r) => r.kind === 'breach'),
      );
      assert.equal(
        a.verdict === 'inconclusive',
        a.reasons.some((r) => r.kind === 'insufficient'),
      );
      assert.deepEqual(JSON.parse(JSON.stringify(a)), a, 'the snapshot is plain JSON (no NaN or Infinity)');
    }),
    { numRuns: 300 },
  );
});

test('more candidate errors never turn a fail into anything else', () => {
  // Errors replace successes (same traffic, same latencies), or arrive as extra requests without a latency sample.
  const moreErrors = fc.record({
    from: fc.constantFrom<StatusClass>('1xx', '2xx', '3xx', '4xx'),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
    asFailed: fc.boolean(),
    added: fc.nat({ max: 200 }),
  });
  fc.assert(
    fc.property(colorCounters, baseline, thresholds, moreErrors, (candidate, base, t, m) => {
      const before = analyse({ candidate, baseline: base }, t);
      fc.pre(before.verdict === 'fail');
      const moved = Math.floor(candidate.byClass[m.from] * m.share);
      const byClass = { ...candidate.byClass, [m.from]: candidate.byClass[m.from] - moved };
      let failed = candidate.failed;
      if (m.asFailed) failed += moved + m.added;
      else byClass['5xx'] += moved + m.added;
      const worse: CounterWindow = { ...candidate, requests: candidate.requests + m.added, byClass, failed };
      assert.equal(analyse({ candidate: worse, baseline: base }, t).verdict, 'fail');
    }),
    { numRuns: 300 },
  );
});

test('slower candidate latencies never turn a fail into anything else', () => {
  fc.assert(
    fc.property(
      colorCounters,
      baseline,
      thresholds,
      fc.nat({ max: BUCKETS_MS.length - 1 }),
      fc.nat({ max: 1000 }),
      (candidate, base, t, i, n) => {
        const before = analyse({ candidate, baseline: base }, t);
        fc.pre(before.verdict === 'fail');
        const counts = [...candidate.latency.counts];
        const moved = Math.min(n, counts[i]!);
        counts[i]! -= moved;
        counts[i + 1]! += moved;
        const slower = { ...candidate, latency: { ...candidate.latency, counts } };
        assert.equal(analyse({ candidate: slower, baseline: base }, t).verdict, 'fail');
      },
    ),
    { numRuns: 300 },
  );
});

test('scaling every count by k keeps the verdict and the reasons (rates and percentiles are invariant)', () => {
  fc.assert(
    fc.property(
      colorCounters,
      baseline,
      thresholds,
      fc.integer({ min: 2, max: 1000 }),
      (candidate, base, t, k) => {
        fc.pre(candidate.requests >= (t.minRequests ?? 100));
        // A baseline between 1 and minBaselineRequests − 1 may cross that line when scaled; that is a sample-size change, not a rate change.
        fc.pre(base === null || base.requests === 0 || base.requests >= (t.minBaselineRequests ?? 50));
        const a = analyse({ candidate, baseline: base }, t);
        const b = analyse({ candidate: scale(candidate, k), baseline: base && scale(base, k) }, t);
        assert.equal(b.verdict, a.verdict);
        assert.deepEqual(
          b.reasons.map((r) => [r.rule, r.kind, r.observed]),
          a.reasons.map((r) => [r.rule, r.kind, r.observed]),
        );
      },
    ),
    { numRuns: 500 },
  );
});

test('a limit set exactly to the observed figure passes, at any scale', () => {
  fc.assert(
    fc.property(colorCounters, colorCounters, fc.integer({ min: 1, max: 1000 }), (candidate, base, k) => {
      fc.pre(candidate.requests > 0 && base.requests > 0);
      const first = analyse(
        { candidate, baseline: base },
        { minRequests: 1, minBaselineRequests: 1 },
      ).snapshot;
      fc.pre(
        first.candidate.p99 !== null &&
          !first.candidate.p99.overflow &&
          first.baseline?.p99 != null &&
          !first.baseline.p99.overflow,
      );
      const c = first.candidate;
      const b = first.baseline!;
      const cP99 = first.candidate.p99!;
      const t: Partial<AnalysisThresholds> = {
        minRequests: 1,
        minBaselineRequests: 1,
        maxErrorRate: c.errorRate!,
        maxErrorRateIncrease: Math.max(0, c.errorRate! - b.errorRate!),
        maxP95Ms: c.p95!.ms,
        maxP99Ms: cP99.ms,
        maxLatencyRatio: Math.max(1, c.p95!.ms / b.p95!.ms, cP99.ms / b.p99!.ms),
      };
      const a = analyse({ candidate: scale(candidate, k), baseline: scale(base, k) }, t);
      assert.deepEqual(a.reasons, []);
      assert.equal(a.verdict, 'pass');
    }),
    { numRuns: 500 },
  );
});

test('percentiles are ordered, within their bucket, and never below the bucket of the rank', () => {
  fc.assert(
    fc.property(
      histogram,
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      (h, q1, q2) => {
        const total = h.counts.reduce((a, b) => a + b, 0);
        const [lo, hi] = q1 <= q2 ? [q1, q2] : [q2, q1];
        const a = histogramQuantile(h, lo);
        const b = histogramQuantile(h, hi);
        if (total === 0) {
          assert.equal(a, null);
          assert.equal(b, null);
          return;
        }
        assert.ok(a && b);
        assert.ok(a.ms <= b.ms + 1e-9, `p${lo} ${a.ms} > p${hi} ${b.ms}`);
        assert.ok(!a.overflow || b.overflow);
        assert.ok(b.ms > 0 && b.ms <= BUCKETS_MS.at(-1)!);
        // At least a share `hi` of the samples is at or below the bucket bound just above the percentile.
        const bucket = BUCKETS_MS.findIndex((bound) => b.ms <= bound);
        const atOrBelow = h.counts.slice(0, bucket + 1).reduce((x, y) => x + y, 0);
        if (!b.overflow) assert.ok(atOrBelow >= (Math.round(hi * 1e6) * total) / 1e6 - 1e-9);
      },
    ),
    { numRuns: 500 },
  );
});

test('diffCounters gives back exactly what was added since the flip', () => {
  fc.assert(
    fc.property(colorCounters, colorCounters, (atFlip, delta) => {
      const byClass = { ...atFlip.byClass };
      for (const k of CLASSES) byClass[k] += delta.byClass[k];
      const now: CounterWindow = {
        requests: atFlip.requests + delta.requests,
        byClass,
        failed: atFlip.failed + delta.failed,
        latency: {
          bucketsMs: BUCKETS_MS,
          counts: atFlip.latency.counts.map((n, i) => n + delta.latency.counts[i]!),
        },
      };
      assert.deepEqual(diffCounters(now, atFlip), delta);
    }),
    { numRuns: 300 },
  );
});
