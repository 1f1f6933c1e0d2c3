import { request } from 'node:http';
import type { Clock } from '../shared/index.ts';
import type { DrainStatus } from './types.ts';

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
export function probeDrain(
  port: number,
  path: string,
  timeoutMs: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<DrainStatus> {
  const at = clock.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<DrainStatus, 'at'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      resolve({ at, ...result });
    };
    const abort = (): void => {
      finish({ done: false, error: 'aborted' });
      req.destroy();
    };
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { connection: 'close', accept: 'application/json', 'user-agent': 'cutover-drain-check' },
    });
    const timer = setTimeout(() => {
      finish({ done: false, error: `timed out after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    timer.unref();
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    req.once('error', (err: NodeJS.ErrnoException) => finish({ done: false, error: err.code ?? err.message }));
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        else res.destroy();
      });
      res.once('error', () => finish({ done: false, status, error: 'response aborted' }));
      res.once('close', () => finish(readDrainBody(status, Buffer.concat(chunks).toString('utf8'))));
    });
    req.end();
  });
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
