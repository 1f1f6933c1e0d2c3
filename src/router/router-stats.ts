// Reading the per-colour counters: plain data for the analysis, and Prometheus text for /metrics.
// The text is rendered by hand on purpose, not with prom-client: a client library keeps its own
// registry and wants every increment to go through it (a label lookup per request), while the hot
// path here must only bump numbers in preallocated arrays. The exposition format is small.
import { LATENCY_BUCKETS_MS, RESPONSE_CLASSES } from './slot-counters.ts';
import type { ResponseClass } from './slot-counters.ts';
import type { RoutedInstance } from './routed-instance.ts';
import type { RouterColorStats, RouterInstanceStats } from './router-types.ts';
import type { Upstream } from './upstream.ts';

function colorStats(upstream: Upstream, weight: number): RouterColorStats {
  const c = upstream.counters;
  const responses = {} as Record<ResponseClass, number>;
  RESPONSE_CLASSES.forEach((name, i) => (responses[name] = c.responses[i] as number));
  const counts = Array.from(c.latency);
  return {
    color: upstream.color,
    version: upstream.version,
    deploymentId: upstream.deploymentId ?? null,
    weight,
    since: new Date(upstream.registeredAt).toISOString(),
    requests: c.requests,
    inFlight: upstream.inFlight,
    responses,
    latency: {
      bucketsMs: [...LATENCY_BUCKETS_MS],
      counts,
      sumMs: c.latencySumMs,
      count: counts.reduce((a, b) => a + b, 0),
    },
  };
}

/** Snapshot of every instance's counters (plain data; safe to keep and compare later). */
export function collectStats(instances: Iterable<RoutedInstance>, now: number): RouterInstanceStats[] {
  const at = new Date(now).toISOString();
  const out: RouterInstanceStats[] = [];
  for (const instance of instances) {
    const weights = instance.weights();
    const colors: RouterColorStats[] = [];
    for (const upstream of [instance.blue, instance.green]) {
      if (upstream !== null) colors.push(colorStats(upstream, weights[upstream.color]));
    }
    out.push({ instance: instance.name, at, active: instance.active?.color ?? null, colors });
  }
  return out;
}

// Label values are escaped as the exposition format requires: backslash, double quote, newline.
function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function seconds(ms: number): string {
  return String(ms / 1000);
}

/** Renders stats in Prometheus text exposition format 0.0.4. */
export function renderMetrics(stats: RouterInstanceStats[]): string {
  const requests: string[] = [];
  const duration: string[] = [];
  const inflight: string[] = [];
  const weight: string[] = [];
  for (const instance of stats) {
    for (const color of instance.colors) {
      const labels = `instance="${escape(instance.instance)}",color="${color.color}",version="${escape(color.version)}"`;
      for (const cls of RESPONSE_CLASSES) {
        requests.push(`cutover_requests_total{${labels},code_class="${cls}"} ${color.responses[cls]}`);
      }
      let cumulative = 0;
      color.latency.bucketsMs.forEach((le, i) => {
        cumulative += color.latency.counts[i] ?? 0;
        duration.push(`cutover_request_duration_seconds_bucket{${labels},le="${seconds(le)}"} ${cumulative}`);
      });
      duration.push(`cutover_request_duration_seconds_bucket{${labels},le="+Inf"} ${color.latency.count}`);
      duration.push(`cutover_request_duration_seconds_sum{${labels}} ${seconds(color.latency.sumMs)}`);
      duration.push(`cutover_request_duration_seconds_count{${labels}} ${color.latency.count}`);
      inflight.push(`cutover_inflight{${labels}} ${color.inFlight}`);
      weight.push(`cutover_weight_percent{${labels}} ${color.weight}`);
    }
  }
  return [
    '# HELP cutover_requests_total Responses by colour and status class (failed: 502/504 produced by the router).',
    '# TYPE cutover_requests_total counter',
    ...requests,
    '# HELP cutover_request_duration_seconds Time from dispatch to the app response headers.',
    '# TYPE cutover_request_duration_seconds histogram',
    ...duration,
    '# HELP cutover_inflight Requests and WebSocket tunnels in flight.',
    '# TYPE cutover_inflight gauge',
    ...inflight,
    '# HELP cutover_weight_percent Share of new clients the colour gets.',
    '# TYPE cutover_weight_percent gauge',
    ...weight,
    '',
  ].join('\n');
}
