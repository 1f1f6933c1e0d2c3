import type { Readable } from 'node:stream';
import { Pool, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { HTTP_ROUTES, encodeHttpRequest, idempotencyKey, specOf, timeoutOf } from '../protocol/index.ts';
import type { AnswerOf, MessageName, RequestOf } from '../protocol/index.ts';
import type { Runtime } from '../deploy/index.ts';

/** How a call reaches the agent: the client's keep-alive pool, or a request of its own (a long log stream). */
type Send = (options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

interface CallOptions {
  /** The bytes a `stream: 'request'` message carries. */
  body?: Readable;
  signal?: AbortSignal;
}

/**
 * Sends one message of the agent protocol over HTTP and returns the raw response once it is
 * accepted (status < 400, or a 404 the message allows as an absent answer). Failures become the
 * agent's own `CutoverError` (code and message), `AGENT_UNREACHABLE` or `TIMEOUT`.
 */
async function send<N extends MessageName>(
  agent: { url: string; token: string; send: Send },
  name: N,
  request: RequestOf<N>,
  options: CallOptions = {},
): Promise<{ res: Dispatcher.ResponseData; absent: boolean }> {
  const spec = specOf(name);
  const { route, path, json } = encodeHttpRequest(name, request);
  const what = `${route.method} ${route.path}`;
  const key = idempotencyKey(name, request);
  const timeout = timeoutOf(name, request);
  let res;
  try {
    res = await agent.send({
      method: route.method,
      path,
      headers: {
        authorization: `Bearer ${agent.token}`,
        // Header values are visible ASCII: anything else in a key (an IDN host?) is percent-encoded.
        ...(key === undefined ? {} : { 'idempotency-key': key.replace(/[^\x20-\x7e]/g, encodeURIComponent) }),
        ...(json === undefined || options.body ? {} : { 'content-type': 'application/json' }),
        ...(options.body ? { 'content-type': 'application/octet-stream' } : {}),
      },
      body: options.body ?? (json === undefined ? null : JSON.stringify(json)),
      headersTimeout: timeout,
      // A streamed answer (log lines) lasts as long as the reader wants it.
      bodyTimeout: spec.stream === 'answer' ? 0 : timeout,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    // A body that failed on our side (an artifact whose bytes no longer match its digest) is
    // that failure, not an unreachable agent.
    if (isCutoverError(error)) throw error;
    const code = (error as { code?: string }).code ?? '';
    if (error instanceof undiciErrors.HeadersTimeoutError) {
      throw new CutoverError('TIMEOUT', `the agent at ${agent.url} did not answer ${what} in time`, { cause: error });
    }
    throw new CutoverError('AGENT_UNREACHABLE', `cannot reach the agent at ${agent.url} (${code || (error as Error).message}); is \`cutover agent\` running?`, {
      cause: error,
    });
  }
  if (res.statusCode === 404 && (spec.absent !== undefined || (route.method === 'HEAD' && 'answerAsStatus' in route))) {
    await res.body.dump();
    return { res, absent: true };
  }
  if (res.statusCode < 400) return { res, absent: false };
  const text = await res.body.text();
  let e: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } = {};
  try {
    e = (text ? JSON.parse(text) : {}) as typeof e;
  } catch {
    // Not our agent's JSON (a proxy's error page?): report what came back rather than a SyntaxError.
    throw new CutoverError('INTERNAL', `the agent at ${agent.url} answered ${what} with ${res.statusCode} and a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  // The agent's own code and message (it logged the failure too), so the real cause reaches the
  // deployment record and the operator.
  throw new CutoverError(e.code ?? 'INTERNAL', e.message ?? `agent answered ${res.statusCode} to ${what}`, { details: e.details ?? {} });
}

/** One call whose answer is JSON (or a status): the answer, or undefined when the message allows an absent one. */
async function call<N extends MessageName>(
  agent: { url: string; token: string; send: Send },
  name: N,
  request: RequestOf<N>,
  options: CallOptions = {},
): Promise<AnswerOf<N>> {
  const { res, absent } = await send(agent, name, request, options);
  if ('answerAsStatus' in encodeHttpRequest(name, request).route) {
    if (!absent) await res.body.dump();
    return !absent as AnswerOf<N>;
  }
  if (absent) return undefined as AnswerOf<N>;
  const text = await res.body.text();
  try {
    return (text ? JSON.parse(text) : undefined) as AnswerOf<N>;
  } catch {
    throw new CutoverError('INTERNAL', `the agent at ${agent.url} answered ${name} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/** How a transport sends one message of the agent protocol and returns its answer (undefined when absent). */
export type SendMessage = <N extends MessageName>(name: N, request: RequestOf<N>, options?: { body?: () => Readable }) => Promise<AnswerOf<N>>;

/**
 * The `Runtime` port mapped onto the agent protocol's messages, over any transport: HTTP to an
 * agent's control API ({@link createAgentClient}) or the session an agent opened to the server
 * (`src/link/`). `body` opens an artifact's bytes for a transport that pushes them; one whose agent
 * pulls them by digest never calls it.
 */
export function runtimeOver(call: SendMessage, close: () => Promise<void>): Runtime & { close(): Promise<void> } {
  const ok = async () => {};
  return {
    // The instance does not change where the artifact goes: one transport speaks to one agent.
    async ensureArtifact(_instance, digest, open) {
      if (await call('artifact.has', { digest })) return;
      await call('artifact.put', { digest }, { body: open });
    },
    ensureInstance: (instance, hosts) => call('instance.put', { instance, hosts }).then(ok),
    startSlot: (spec) => call('slot.start', spec),
    waitHealthy: (instance, color, timeoutMs) => call('slot.wait', { instance, color, timeoutMs }),
    // `reason` is only sent when it is a rollback: an older agent refuses no field it ignores,
    // and a forward flip stays the same request as before.
    flip: (instance, color, expectVersion, reason) =>
      call('instance.flip', {
        instance,
        color,
        ...(expectVersion === undefined ? {} : { expectVersion }),
        ...(reason === 'rollback' ? { reason } : {}),
      }),
    shift: (instance, color, percent) => call('instance.shift', { instance, color, percent }),
    applyDesired: (number, document) => call('machine.desired', { number, document }),
    setPreview: (instance, token) => call('instance.preview', { instance, token }).then(ok),
    setMaintenance: (instance, maintenance) =>
      (maintenance === null ? call('instance.maintenance.off', { instance }) : call('instance.maintenance.on', { instance, ...maintenance })).then(ok),
    stopSlot: (instance, color) => call('slot.stop', { instance, color }).then(ok),
    removeInstance: (instance) => call('instance.remove', { instance }).then(ok),
    listArtifacts: async () => (await call('artifact.list', {})).artifacts,
    deleteArtifact: (digest) => call('artifact.delete', { digest }).then(ok),
    describe: (instance) => call('instance.describe', { instance }),
    stats: (instance) => call('instance.stats', { instance }),
    runTest: (spec) => call('instance.test', spec),
    cancelTest: (instance) => call('instance.test.cancel', { instance }).then(ok),
    // An older agent's state has no `localRollbacks`: it made none.
    localRollbacks: async () => (await call('agent.state', {})).localRollbacks ?? [],
    ackLocalRollbacks: (ids) => (ids.length ? call('agent.local.ack', { ids }).then(ok) : Promise.resolve()),
    close,
  };
}

/**
 * The `Runtime` port over the agent protocol (`src/protocol/`), sent as HTTP to the agent's control
 * API. One keep-alive pool, so a flip costs one round trip on an open connection.
 */
export function createAgentClient(url: string, token: string): Runtime & { close(): Promise<void> } {
  const pool = new Pool(url, { connections: 16, keepAliveTimeout: 30_000 });
  const agent = { url, token, send: (o: Dispatcher.RequestOptions) => pool.request(o) };
  return runtimeOver(
    (name, request, options) => call(agent, name, request, options?.body ? { body: options.body() } : {}),
    () => pool.close(),
  );
}

/** A request of its own (not the client's pool), so a long log stream never holds a connection a flip needs. */
const direct =
  (url: string): Send =>
  ({ path, method, headers, body, headersTimeout, bodyTimeout, signal }) =>
    undiciRequest(new URL(path, url), {
      method,
      headers,
      body,
      ...(headersTimeout === undefined ? {} : { headersTimeout }),
      ...(bodyTimeout === undefined ? {} : { bodyTimeout }),
      ...(signal ? { signal } : {}),
    });

/** Opens the agent's log stream for an instance (used by the API to relay `cutover logs`). */
export async function openAgentLogs(
  url: string,
  token: string,
  instance: string,
  query: { color?: Color; tail?: number; follow?: boolean },
  signal: AbortSignal,
): Promise<{ color: string; body: AsyncIterable<Uint8Array> }> {
  const { res } = await send({ url, token, send: direct(url) }, 'instance.logs', { instance, ...query }, { signal });
  return { color: String(res.headers[HTTP_ROUTES['instance.logs'].answerHeaders.color] ?? ''), body: res.body };
}

/**
 * Whether the agent at `url` answers an authenticated call with `token` within `timeoutMs`:
 * then it is the agent of the data directory that holds the token (`cutover up` reuses it).
 */
export async function agentAnswers(url: string, token: string, timeoutMs: number): Promise<boolean> {
  const agent = { url, token, send: direct(url) };
  return call(agent, 'agent.state', {}, { signal: AbortSignal.timeout(timeoutMs) }).then(
    () => true,
    () => false,
  );
}
