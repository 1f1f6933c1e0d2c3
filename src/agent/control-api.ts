import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { CutoverError, diskFullError, httpStatusFor, invalidInput, isCutoverError, validate } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { HTTP_ROUTES, MESSAGE_NAMES, decodeHttpQuery, hasJsonBody, specOf } from '../protocol/index.ts';
import type { HttpRoute, MessageName, RequestOf } from '../protocol/index.ts';
import type { AgentCore } from './agent-core.ts';
import { protocolHandlers } from './protocol-handlers.ts';

type Env = { Bindings: HttpBindings };

export interface ControlApiOptions {
  log?: Pick<Logger, 'warn' | 'error'>;
  /** Checks every answer against its message's schema before sending it (tests: a drift fails there). */
  checkAnswers?: boolean;
}

const digestOf = (token: string) => createHash('sha256').update(token).digest();

/** The request as its message defines it: path fields, query fields and the JSON body, checked by the schema. */
async function readRequest(c: Context<Env>, name: MessageName, route: HttpRoute): Promise<unknown> {
  let body: object = {};
  if (hasJsonBody(route) && specOf(name).stream !== 'request') {
    let parsed: unknown;
    try {
      parsed = await c.req.json();
    } catch {
      throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: '', message: 'must be JSON' }]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: '', message: 'must be a JSON object' }]);
    }
    body = parsed;
  }
  const raw = { ...body, ...decodeHttpQuery(route, (f) => c.req.query(f)), ...c.req.param() };
  return validate(specOf(name).request, raw, 'The request');
}

function checkAnswer(name: MessageName, answer: unknown): void {
  const parsed = specOf(name).answer.safeParse(answer);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
    throw new CutoverError('INTERNAL', `the agent's answer to ${name} does not match the protocol: ${issues}`);
  }
}

/**
 * The agent's private control API: what the control plane calls to prepare, start, check, flip and
 * stop slots. Every route is a message of the agent protocol (`src/protocol/`), served by one
 * generic handler: read and validate the request, call the core, send the answer. Bearer-token
 * protected, except the health probe; it should listen on a private address only.
 */
export function createControlApi(core: AgentCore, token: string, options: ControlApiOptions = {}) {
  const { log } = options;
  const expected = digestOf(token);
  const handlers = protocolHandlers(core);
  const app = new Hono<Env>();

  // Every failure is logged here with its real cause, and the caller (the server) gets the same
  // message: "see its log" is useless when the log has nothing. A full disk names the directory.
  app.onError((error, c) => {
    const e = isCutoverError(error)
      ? error
      : (diskFullError(error, core.dataDir) ??
        new CutoverError('INTERNAL', `the agent failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
    const status = httpStatusFor(e.code);
    const key = c.req.header('idempotency-key');
    const fields = { method: c.req.method, path: c.req.path, code: e.code, err: e.message, ...(key ? { call: key } : {}) };
    if (status >= 500) log?.error({ ...fields, ...(e !== error && error instanceof Error ? { stack: error.stack } : {}) }, 'agent request failed');
    else if (status !== 401 && status !== 404) log?.warn(fields, 'agent request refused');
    return c.json(e.toJSON(), status as 500);
  });
  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no agent route ${c.req.method} ${c.req.path}`, details: {} }, 404));

  const serve = <N extends MessageName>(name: N) => {
    const route: HttpRoute = HTTP_ROUTES[name];
    const spec = specOf(name);
    app.on(route.method, route.path, async (c) => {
      const request = (await readRequest(c, name, route)) as RequestOf<N>;
      const result = (await handlers[name](request, c.env.incoming)) as unknown;
      if (spec.stream === 'answer') {
        const { answer, stream } = result as { answer: Record<string, string>; stream: ReadableStream<Uint8Array> };
        if (options.checkAnswers) checkAnswer(name, answer);
        const headers = Object.fromEntries(Object.entries(route.answerHeaders ?? {}).map(([field, header]) => [header, String(answer[field])]));
        return c.body(stream, 200, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      }
      if (result === undefined && spec.absent) {
        const instance = (request as { instance?: string }).instance;
        throw new CutoverError(spec.absent, `the agent does not know instance "${instance}"`, { details: { instance } });
      }
      if (options.checkAnswers) checkAnswer(name, result);
      if (route.answerAsStatus) return c.body(null, result ? 200 : 404);
      return c.json(result as object);
    });
  };

  // Open probes first: the token check below covers every route registered after it.
  for (const name of MESSAGE_NAMES) if (specOf(name).open) serve(name);

  app.use('/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? digestOf(header.slice(7)) : undefined;
    if (!given || !timingSafeEqual(given, expected)) {
      throw new CutoverError('UNAUTHORIZED', 'missing or wrong agent token');
    }
    await next();
  });

  // Prometheus text of every instance's per-colour counters (on this private port, with the token).
  // Not a protocol message: a scraper reads it, not the control plane.
  app.get('/v1/metrics', (c) => c.body(core.metricsText(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  for (const name of MESSAGE_NAMES) if (!specOf(name).open) serve(name);
  return app;
}
