// Per-colour traffic counters kept on the request path. Recording a response bumps two slots of
// preallocated typed arrays and adds to a sum: no allocation, no lookup by label. Everything that
// costs (labels, cumulative buckets, text) happens when someone reads them (`stats()`,
// `metricsText()`), which is rare by comparison.

/** Upper bounds (inclusive, in ms) of the latency histogram buckets; a last bucket holds the rest. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/** Labels of `SlotCounters.responses`, index by index. */
export const RESPONSE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'failed'] as const;

/** One of `RESPONSE_CLASSES`. */
export type ResponseClass = (typeof RESPONSE_CLASSES)[number];

const FAILED = 5;
const BUCKETS = LATENCY_BUCKETS_MS.length;

/** Counters of one registered colour (they start at zero when its target is registered). */
export class SlotCounters {
  /** Requests dispatched to the colour (WebSocket upgrades included). */
  requests = 0;
  /**
   * Responses by class, indexed like `RESPONSE_CLASSES`: 1xx–5xx as the app answered (a 101 for
   * a WebSocket is a 1xx), and `failed` for the 502/504 the router produced because the app did
   * not answer (those are not counted under 5xx).
   */
  readonly responses = new Float64Array(RESPONSE_CLASSES.length);
  /** Non-cumulative counts per bucket of `LATENCY_BUCKETS_MS`, then the overflow bucket. */
  readonly latency = new Float64Array(BUCKETS + 1);
  /** Sum of the recorded latencies, in ms. */
  latencySumMs = 0;

  /**
   * Records an app response: its status class, and the time from dispatch to its response
   * headers (what the app is responsible for, not how long the client took to read the body).
   */
  response(status: number, ms: number): void {
    let cls = ((status / 100) | 0) - 1;
    if (cls < 0) cls = 0;
    else if (cls > 4) cls = 4;
    const responses = this.responses;
    responses[cls] = (responses[cls] as number) + 1;
    let i = 0;
    while (i < BUCKETS && ms > (LATENCY_BUCKETS_MS[i] as number)) i++;
    const latency = this.latency;
    latency[i] = (latency[i] as number) + 1;
    this.latencySumMs += ms;
  }

  /** Records a 502/504 the router answered itself. */
  failed(): void {
    const responses = this.responses;
    responses[FAILED] = (responses[FAILED] as number) + 1;
  }
}
