/**
 * The pinned benchmark's figures: medians over the interleaved repetitions per proxy, checked
 * against issue 24's targets, and printed as one table (Markdown, so it goes into
 * docs/benchmarks.md as it is).
 */
import type { FlipResult } from '../router-flip.ts';
import type { WrkResult } from './wrk.ts';

/** Issue 24's targets for the router. */
export const PINNED_TARGETS = {
  throughputVsNginx: 0.8,
  cpuUsPerRequest: 30,
  rssMiB: 150,
  /** CPU per request at least this much below "before", in the same run. */
  cpuCutVsBefore: 0.25,
} as const;

/** One measured wrk run against one proxy, CPU per request from /proc (µs). */
export interface PinnedRun {
  proxy: string;
  connections: number;
  wrk: Omit<WrkResult, 'raw'>;
  proxyUserUs: number;
  proxySystemUs: number;
  appUs: number;
}

/** One proxy's figures (medians over repetitions). */
export interface PinnedSummary {
  proxy: string;
  rps: number;
  vsNginx: number;
  cpuUs: number;
  userUs: number;
  systemUs: number;
  appUs: number;
  p50Ms: number;
  p99Ms: number;
  p50Ms1: number;
  p99Ms1: number;
  failures: number;
  flipP50Ms: number;
  flipP99Ms: number;
  rssMiB: number;
  idleOpen: number;
}

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Medians per proxy; the throughput ratio is nginx's median over the same repetitions. */
export function summariseRuns(
  runs: PinnedRun[],
  rss: Map<string, { rss: number; open: number }>,
  flips: Map<string, FlipResult>,
): PinnedSummary[] {
  const names = [...new Set(runs.map((r) => r.proxy))];
  const saturating = Math.max(...runs.map((r) => r.connections));
  const nginxRps = median(
    runs.filter((r) => r.proxy === 'nginx' && r.connections === saturating).map((r) => r.wrk.rps),
  );
  return names.map((proxy) => {
    const mine = runs.filter((r) => r.proxy === proxy);
    const t = mine.filter((r) => r.connections === saturating);
    const l = mine.filter((r) => r.connections !== saturating);
    const rps = median(t.map((r) => r.wrk.rps));
    const flip = flips.get(proxy);
    const idle = rss.get(proxy);
    return {
      proxy,
      rps,
      vsNginx: rps / nginxRps,
      cpuUs: median(t.map((r) => r.proxyUserUs + r.proxySystemUs)),
      userUs: median(t.map((r) => r.proxyUserUs)),
      systemUs: median(t.map((r) => r.proxySystemUs)),
      appUs: median(t.map((r) => r.appUs)),
      p50Ms: median(t.map((r) => r.wrk.p50Ms)),
      p99Ms: median(t.map((r) => r.wrk.p99Ms)),
      p50Ms1: median(l.map((r) => r.wrk.p50Ms)),
      p99Ms1: median(l.map((r) => r.wrk.p99Ms)),
      failures: mine.reduce((n, r) => n + r.wrk.failures, 0) + (flip?.load.failures ?? 0),
      flipP50Ms: flip?.flip.p50 ?? Number.NaN,
      flipP99Ms: flip?.flip.p99 ?? Number.NaN,
      rssMiB: idle ? idle.rss / 2 ** 20 : Number.NaN,
      idleOpen: idle?.open ?? 0,
    };
  });
}

const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/** The Markdown table and the verdicts against the targets. */
export function pinnedTable(summary: PinnedSummary[], idle: number): string[] {
  const T = PINNED_TARGETS;
  const rows = summary.map(
    (s) =>
      `| ${s.proxy} | ${f(s.rps, 0)} | ${f(s.vsNginx, 2)}× | ${f(s.cpuUs)} (${f(s.userUs)} + ${f(s.systemUs)}) | ${f(s.appUs)} | ${f(s.p50Ms, 3)} / ${f(s.p99Ms, 3)} | ${f(s.p50Ms1, 3)} / ${f(s.p99Ms1, 3)} | ${f(s.flipP50Ms, 2)} / ${f(s.flipP99Ms, 2)} | ${f(s.rssMiB)} (${s.idleOpen} open) | ${s.failures} |`,
  );
  // Each router is compared with the "before" run the same way: sources with sources, built with built.
  const beforeOf = (s: PinnedSummary) =>
    summary.find((b) => b.proxy === (s.proxy.startsWith('dist') ? 'before-dist' : 'before'));
  const verdicts = summary
    .filter((s) => s.proxy !== 'nginx' && s.proxy !== 'haproxy')
    .map((s) => {
      const before = beforeOf(s);
      const cut = before && !s.proxy.startsWith('before') ? 1 - s.cpuUs / before.cpuUs : Number.NaN;
      const check = (ok: boolean) => (s.failures > 0 ? 'INVALID (failed requests)' : ok ? 'met' : 'MISSED');
      return [
        `${s.proxy}: throughput ${f(s.vsNginx, 2)}× nginx (target ≥ ${T.throughputVsNginx}: ${check(s.vsNginx >= T.throughputVsNginx)});`,
        `CPU ${f(s.cpuUs)} µs/request (target ≤ ${T.cpuUsPerRequest}: ${check(s.cpuUs <= T.cpuUsPerRequest)});`,
        `RSS ${f(s.rssMiB)} MiB with ${idle} idle (target ≤ ${T.rssMiB}: ${check(s.rssMiB <= T.rssMiB)})`,
        Number.isFinite(cut)
          ? `; CPU ${f(100 * cut)} % below ${before?.proxy} (target ≥ ${100 * T.cpuCutVsBefore} %: ${check(cut >= T.cpuCutVsBefore)})`
          : '',
      ].join(' ');
    });
  return [
    '',
    '| proxy | req/s, 64 conn. | ÷ nginx | proxy CPU µs/req (user + sys) | app CPU µs/req | p50 / p99 ms, 64 conn. | p50 / p99 ms, 1 conn. | flip p50 / p99 ms | RSS MiB, idle conns | failed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...verdicts,
  ];
}
