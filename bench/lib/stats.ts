/** Nearest-rank percentiles of a sample set, in the unit of the samples. */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Summarises samples with the nearest-rank method: p99 of 50 samples is the largest one, which is
 * what an honest small-sample p99 is. Empty input gives NaN figures rather than a throw, so one
 * missing series does not hide the others in a report.
 */
export function summarise(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const rank = (p: number) =>
    sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] ?? Number.NaN;
  return {
    n,
    min: sorted[0] ?? Number.NaN,
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
    max: sorted[n - 1] ?? Number.NaN,
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : Number.NaN,
  };
}

const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** One fixed-width table row: label, then p50/p90/p99/max (and n). */
export function row(label: string, s: Summary, digits = 2): string {
  return `${label.padEnd(54)} ${[s.p50, s.p90, s.p99, s.max].map((v) => fmt(v, digits).padStart(8)).join(' ')}   n=${s.n}`;
}

/** The header matching `row`. */
export function header(unit = 'ms'): string {
  return `${`(${unit})`.padEnd(54)} ${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(8)).join(' ')}`;
}

/** "met" / "MISSED" against a ceiling, judged on p99 (and max shown separately). */
export function verdict(s: Summary, targetMs: number): string {
  if (!Number.isFinite(s.p99)) return 'no data';
  return s.p99 <= targetMs
    ? `met (p99 ${s.p99.toFixed(2)} ≤ ${targetMs} ms)`
    : `MISSED (p99 ${s.p99.toFixed(2)} > ${targetMs} ms)`;
}
