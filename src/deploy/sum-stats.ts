// The counters agents push every bake interval (ADR 0019): what the bake decides on is their sum
// over the machines of an instance. Pure: the sessions keep the latest report of each machine.
import type { ColorStats, InstanceStats } from '../protocol/index.ts';

const add = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

function sumColor(a: ColorStats, b: ColorStats): ColorStats {
  // Latency buckets add up only when both routers use the same bounds; otherwise the first's stay.
  const sameBuckets = a.latency.bucketsMs.length === b.latency.bucketsMs.length && a.latency.bucketsMs.every((x, i) => x === b.latency.bucketsMs[i]);
  return {
    ...a,
    // The colour's counters start where the earliest machine's started.
    since: a.since <= b.since ? a.since : b.since,
    requests: a.requests + b.requests,
    responses: add(a.responses, b.responses),
    ...(a.inFlight !== undefined || b.inFlight !== undefined ? { inFlight: (a.inFlight ?? 0) + (b.inFlight ?? 0) } : {}),
    latency: sameBuckets
      ? {
          bucketsMs: a.latency.bucketsMs,
          counts: a.latency.counts.map((c, i) => c + (b.latency.counts[i] ?? 0)),
          ...(a.latency.sumMs !== undefined || b.latency.sumMs !== undefined ? { sumMs: (a.latency.sumMs ?? 0) + (b.latency.sumMs ?? 0) } : {}),
          ...(a.latency.count !== undefined || b.latency.count !== undefined ? { count: (a.latency.count ?? 0) + (b.latency.count ?? 0) } : {}),
        }
      : a.latency,
  };
}

/**
 * One instance's counters over all its machines: per colour and deployment, requests, responses
 * by class, in-flight requests and latency buckets summed. A colour that runs another deployment
 * on one machine (a machine behind) is kept apart, so the bake never mixes two releases.
 */
export function sumStats(reports: InstanceStats[]): InstanceStats | undefined {
  if (reports.length === 0) return undefined;
  const colors = new Map<string, ColorStats>();
  for (const report of reports) {
    for (const c of report.colors) {
      const key = `${c.color} ${c.deploymentId ?? ''} ${c.version}`;
      const seen = colors.get(key);
      colors.set(key, seen ? sumColor(seen, c) : c);
    }
  }
  const latest = reports.reduce((a, b) => (a.at >= b.at ? a : b));
  return { instance: latest.instance, at: latest.at, active: latest.active, colors: [...colors.values()] };
}
