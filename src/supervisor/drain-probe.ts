import type { Clock } from '../shared/index.ts';
import type { DrainStatus } from './types.ts';
import { loopbackGet } from './loopback-get.ts';

/** The most of a drain answer read; the JSON is a count and a sentence. */
const MAX_BODY_BYTES = 16 * 1024;
/** A message longer than this is cut: it is shown in progress lines. */
const MAX_MESSAGE_LENGTH = 200;

/**
 * One poll of the app's drain endpoint: `GET http://127.0.0.1:<port><path>`. A 204, or a 2xx
 * whose JSON body has `pending: 0`, means done; a 2xx with `pending > 0` means work remains;
 * anything else (refused, timeout, 4xx/5xx, no readable count) is a status with `error` set,
 * never a throw: the stop goes on regardless, bounded by the grace. `signal` cuts the poll short.
 */
export async function probeDrain(
  port: number,
  path: string,
  timeoutMs: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<DrainStatus> {
  const at = clock.now();
  const answer = await loopbackGet(port, path, {
    timeoutMs,
    userAgent: 'cutover-drain-check',
    accept: 'application/json',
    maxBodyBytes: MAX_BODY_BYTES,
    ...(signal ? { signal } : {}),
  });
  if (answer.error !== undefined) {
    return { at, done: false, ...(answer.status === undefined ? {} : { status: answer.status }), error: answer.error };
  }
  return { at, ...readDrainBody(answer.status ?? 0, answer.body.toString('utf8')) };
}

/** Interprets one drain answer. Exported for tests. */
export function readDrainBody(status: number, body: string): Omit<DrainStatus, 'at'> {
  if (status === 204) return { done: true, status };
  if (status < 200 || status >= 300) return { done: false, status, error: `HTTP ${status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { done: false, status, error: 'the answer is not JSON with a "pending" count' };
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const pending = record.pending;
  const message = typeof record.message === 'string' ? record.message.slice(0, MAX_MESSAGE_LENGTH) : undefined;
  if (typeof pending !== 'number' || !Number.isFinite(pending) || pending < 0) {
    return { done: false, status, error: 'the answer has no "pending" count', ...(message ? { message } : {}) };
  }
  return { done: pending === 0, status, pending, ...(message === undefined ? {} : { message }) };
}

/** `3 pending: 3 jobs still running`, `done`, `GET /drain → ECONNREFUSED`: a progress line. */
export function describeDrain(path: string, status: DrainStatus): string {
  if (status.error !== undefined) return `GET ${path} → ${status.error}`;
  if (status.done) return status.message ? `done: ${status.message}` : 'done';
  const count = `${status.pending ?? '?'} pending`;
  return status.message ? `${count}: ${status.message}` : count;
}
