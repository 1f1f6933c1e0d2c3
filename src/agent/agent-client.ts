import type { Readable } from 'node:stream';
import { Pool, errors as undiciErrors, request } from 'undici';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type {
  HealthResult,
  Runtime,
  RuntimeArtifact,
  RuntimeInstance,
  RuntimeInstanceStats,
  RuntimeMaintenance,
  RuntimeSlotSpec,
} from '../deploy/index.ts';

/**
 * The `Runtime` port over the agent's control API. One keep-alive pool, so a flip costs one
 * round trip on an open connection.
 */
export function createAgentClient(url: string, token: string): Runtime & { close(): Promise<void> } {
  const pool = new Pool(url, { connections: 16, keepAliveTimeout: 30_000 });
  const auth = `Bearer ${token}`;

  async function call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD',
    path: string,
    payload?: unknown,
    options: { body?: Readable; timeoutMs?: number; allow404?: boolean } = {},
  ): Promise<T | undefined> {
    let res;
    try {
      res = await pool.request({
        method,
        path,
        headers: {
          authorization: auth,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.body ? { 'content-type': 'application/octet-stream' } : {}),
        },
        body: options.body ?? (payload === undefined ? null : JSON.stringify(payload)),
        headersTimeout: options.timeoutMs ?? 30_000,
        bodyTimeout: options.timeoutMs ?? 30_000,
      });
    } catch (error) {
      // A body that failed on our side (an artifact whose bytes no longer match its digest) is
      // that failure, not an unreachable agent.
      if (isCutoverError(error)) throw error;
      const code = (error as { code?: string }).code ?? '';
      if (error instanceof undiciErrors.HeadersTimeoutError) {
        throw new CutoverError('TIMEOUT', `the agent at ${url} did not answer ${method} ${path} in time`, { cause: error });
      }
      throw new CutoverError('AGENT_UNREACHABLE', `cannot reach the agent at ${url} (${code || (error as Error).message}); is \`cutover agent\` running?`, {
        cause: error,
      });
    }
    if (res.statusCode === 404 && options.allow404) {
      await res.body.dump();
      return undefined;
    }
    if (method === 'HEAD') {
      await res.body.dump();
      return (res.statusCode < 300 ? {} : undefined) as T | undefined;
    }
    const text = await res.body.text();
    let data: unknown;
    try {
      data = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      // Not our agent's JSON (a proxy's error page?): report what came back rather than a SyntaxError.
      throw new CutoverError('INTERNAL', `the agent at ${url} answered ${method} ${path} with ${res.statusCode} and a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (res.statusCode >= 400) {
      // The agent's own code and message (it logged the failure too), so the real cause reaches
      // the deployment record and the operator.
      const e = (data ?? {}) as { code?: ErrorCode; message?: string; details?: Record<string, unknown> };
      throw new CutoverError(e.code ?? 'INTERNAL', e.message ?? `agent answered ${res.statusCode} to ${method} ${path}`, {
        details: e.details ?? {},
      });
    }
    return data as T;
  }

  const at = (instance: string) => `/v1/instances/${encodeURIComponent(instance)}`;
  const slot = (instance: string, color: Color) => `${at(instance)}/slots/${color}`;

  return {
    async ensureArtifact(digest, open) {
      if (await call('HEAD', `/v1/artifacts/${digest}`, undefined, { allow404: true })) return;
      await call('PUT', `/v1/artifacts/${digest}`, undefined, { body: open(), timeoutMs: 300_000 });
    },
    async ensureInstance(name, hosts) {
      await call('PUT', `/v1/instances/${encodeURIComponent(name)}`, { hosts });
    },
    async startSlot(spec: RuntimeSlotSpec) {
      const { instance, color, ...rest } = spec;
      return (await call<{ port: number; pid?: number }>('POST', `${slot(instance, color)}/start`, rest))!;
    },
    async waitHealthy(instance, color, timeoutMs) {
      return (await call<HealthResult>('POST', `${slot(instance, color)}/wait`, { timeoutMs }, { timeoutMs: timeoutMs + 10_000 }))!;
    },
    async flip(instance, color, expectVersion, reason) {
      // `reason` is only sent when it is a rollback: an older agent refuses no field it ignores,
      // and a forward flip stays the same request as before.
      const body = {
        color,
        ...(expectVersion === undefined ? {} : { expectVersion }),
        ...(reason === 'rollback' ? { reason } : {}),
      };
      return (await call<{ flippedAt: number }>('POST', `/v1/instances/${encodeURIComponent(instance)}/flip`, body))!;
    },
    async shift(instance, color, percent) {
      return (await call<{ shiftedAt: number }>('POST', `${at(instance)}/shift`, { color, percent }))!;
    },
    async setPreview(instance, token) {
      await call('PUT', `${at(instance)}/preview`, { token });
    },
    async setMaintenance(instance, maintenance: RuntimeMaintenance | null) {
      if (maintenance === null) await call('DELETE', `${at(instance)}/maintenance`);
      else await call('PUT', `${at(instance)}/maintenance`, maintenance);
    },
    async stopSlot(instance, color) {
      await call('POST', `${slot(instance, color)}/stop`, {}, { timeoutMs: 600_000 });
    },
    async removeInstance(instance) {
      // Drains the instance's in-flight requests, then stops both slots: as long as a stop can take.
      await call('DELETE', at(instance), undefined, { timeoutMs: 600_000 });
    },
    async listArtifacts() {
      return (await call<{ artifacts: RuntimeArtifact[] }>('GET', '/v1/artifacts'))!.artifacts;
    },
    async deleteArtifact(digest) {
      await call('DELETE', `/v1/artifacts/${encodeURIComponent(digest)}`);
    },
    async describe(instance) {
      return call<RuntimeInstance>('GET', `/v1/instances/${encodeURIComponent(instance)}`, undefined, { allow404: true });
    },
    async stats(instance) {
      return call<RuntimeInstanceStats>('GET', `/v1/instances/${encodeURIComponent(instance)}/stats`, undefined, { allow404: true });
    },
    close: () => pool.close(),
  };
}

/** Opens the agent's log stream for an instance (used by the API to relay `cutover logs`). */
export async function openAgentLogs(
  url: string,
  token: string,
  instance: string,
  query: { color?: Color; tail?: number; follow?: boolean },
  signal: AbortSignal,
): Promise<{ color: string; body: AsyncIterable<Uint8Array> }> {
  const search = new URLSearchParams();
  if (query.color) search.set('color', query.color);
  if (query.tail !== undefined) search.set('tail', String(query.tail));
  if (query.follow) search.set('follow', '1');
  const res = await request(`${url}/v1/instances/${encodeURIComponent(instance)}/logs?${search}`, {
    headers: { authorization: `Bearer ${token}` },
    signal,
    bodyTimeout: 0,
  }).catch((error: Error) => {
    throw new CutoverError('AGENT_UNREACHABLE', `cannot reach the agent at ${url} (${error.message})`, { cause: error });
  });
  if (res.statusCode >= 400) {
    const e = (await res.body.json().catch(() => ({}))) as { code?: ErrorCode; message?: string };
    throw new CutoverError(e.code ?? 'INTERNAL', e.message ?? `agent answered ${res.statusCode}`);
  }
  return { color: String(res.headers['x-cutover-color'] ?? ''), body: res.body };
}
