import { request } from 'node:http';

/** How one loopback GET ended: the status and the body kept, or why there was none. */
export interface LoopbackAnswer {
  status?: number;
  /** Up to `maxBodyBytes` of the body (empty when none is kept). */
  body: Buffer;
  error?: string;
}

/**
 * One `GET http://127.0.0.1:<port><path>` of a slot's app, for health and drain probes. Never
 * rejects: a refusal, a timeout, an abort or a cut answer is an `error`. `agent: false` plus
 * `Connection: close` means no socket is pooled between probes, so they never keep the agent
 * alive nor look like a held connection to the app's own drain logic. A body over
 * `maxBodyBytes` (0: none is kept, it is read and dropped) cuts the answer short.
 */
export function loopbackGet(
  port: number,
  path: string,
  options: { timeoutMs: number; userAgent: string; accept?: string; maxBodyBytes?: number; signal?: AbortSignal },
): Promise<LoopbackAnswer> {
  const { timeoutMs, signal } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 0;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: LoopbackAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      resolve(answer);
    };
    const abort = (): void => {
      finish({ body: Buffer.alloc(0), error: 'aborted' });
      req.destroy();
    };
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { connection: 'close', 'user-agent': options.userAgent, ...(options.accept ? { accept: options.accept } : {}) },
    });
    const timer = setTimeout(() => {
      finish({ body: Buffer.alloc(0), error: `timed out after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    timer.unref();
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    req.once('error', (err: NodeJS.ErrnoException) => finish({ body: Buffer.alloc(0), error: err.code ?? err.message }));
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      let cut = false;
      res.on('data', (chunk: Buffer) => {
        if (maxBodyBytes === 0) return;
        size += chunk.length;
        if (size <= maxBodyBytes) chunks.push(chunk);
        else {
          cut = true;
          res.destroy();
        }
      });
      res.once('error', () => finish({ status, body: Buffer.alloc(0), error: 'response aborted' }));
      res.once('end', () => finish({ status, body: Buffer.concat(chunks) }));
      // A body cut at `maxBodyBytes` ends in `close` without `end`: what was kept is the answer.
      res.once('close', () => {
        if (cut) finish({ status, body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
}
