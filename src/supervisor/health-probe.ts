import type { Clock } from '../shared/index.ts';
import type { HealthCheckResult } from './types.ts';
import { loopbackGet } from './loopback-get.ts';

/**
 * One health probe: `GET http://127.0.0.1:<port><path>`, success on a 2xx/3xx answer within
 * `timeoutMs` (body included). Never rejects: a failure is a result with `error` set.
 */
export async function probeHealth(
  port: number,
  path: string,
  timeoutMs: number,
  clock: Clock,
): Promise<HealthCheckResult> {
  const at = clock.now();
  const started = performance.now();
  const { status, error } = await loopbackGet(port, path, { timeoutMs, userAgent: 'cutover-health-check' });
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  const ok = error === undefined && status !== undefined && status >= 200 && status < 400;
  const result: HealthCheckResult = { ok, at, durationMs };
  if (status !== undefined) result.status = status;
  if (error !== undefined) result.error = error;
  else if (!ok) result.error = `HTTP ${status}`;
  return result;
}

/** Counters behind the healthy/unhealthy decision. */
export interface HealthCounters {
  successes: number;
  failures: number;
}

/**
 * Applies one probe result to the counters and says which state the slot moves to, if any.
 * Pure, so the threshold rules are tested without processes: `healthyThreshold` consecutive
 * successes make a starting or unhealthy slot healthy; `unhealthyThreshold` consecutive failures
 * make a healthy slot unhealthy. A starting slot never becomes unhealthy: before its first
 * success it is simply not ready yet, and `waitHealthy`'s deadline decides.
 */
export function applyHealthCheck(
  state: 'starting' | 'healthy' | 'unhealthy',
  counters: HealthCounters,
  ok: boolean,
  thresholds: { healthyThreshold: number; unhealthyThreshold: number },
): 'healthy' | 'unhealthy' | undefined {
  if (ok) {
    counters.successes += 1;
    counters.failures = 0;
    if (state !== 'healthy' && counters.successes >= thresholds.healthyThreshold) return 'healthy';
  } else {
    counters.failures += 1;
    counters.successes = 0;
    if (state === 'healthy' && counters.failures >= thresholds.unhealthyThreshold) return 'unhealthy';
  }
  return undefined;
}

/** `GET /healthz → 500`, `GET /healthz → ECONNREFUSED`: what an operator needs to read. */
export function describeCheck(path: string, check: HealthCheckResult | undefined): string {
  if (check === undefined) return `GET ${path} → no check completed yet`;
  if (check.status === undefined) return `GET ${path} → ${check.error ?? 'failed'}`;
  const extra =
    check.error === undefined || check.error === `HTTP ${check.status}` ? '' : ` (${check.error})`;
  return `GET ${path} → ${check.status}${extra}`;
}
