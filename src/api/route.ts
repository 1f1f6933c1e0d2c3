import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { z } from 'zod';
import { CutoverError, invalidInput, validate } from '../shared/index.ts';
import type { Actor, Role } from '../shared/index.ts';
import type { TokenRecord } from '../store/index.ts';
import { accessProblem } from '../control/index.ts';
import type { PublisherAccess, RankedRole } from '../control/index.ts';
import { DEFAULT_MAX_API_BODY, readBodyText } from './read-body.ts';

/** Who is asking: the token's name and role, and this request's id (always set here), carried into audit entries. */
type Caller = Actor & { role: Role; requestId: string };

export type ApiEnv = { Bindings: HttpBindings; Variables: { token?: TokenRecord; requestId: string; /** Largest JSON body, set by `mount`. */ maxBody: number } };

/**
 * One API operation. The same schemas validate the request and describe it in the OpenAPI
 * document (`openapi.ts`), and `role` is both enforced and published (`x-cutover-role`), so the
 * document and the server cannot disagree.
 */
export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI style: `/api/channels/{name}/promote`. */
  path: string;
  /**
   * The lowest role allowed; `public` needs no token; `machine`: no API token either, the handler
   * authenticates the agent itself (a join token in the body, or the machine's credential).
   */
  role: RankedRole | 'public' | 'machine';
  /** Also open to `publisher` tokens: for any subject, or only for the channel in `{name}` when it is one of the token's. */
  publisher?: PublisherAccess;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** A JSON body, validated before the handler runs: the one place a request body is validated. */
  body?: z.ZodType<B>;
  /**
   * The error for a body that is not JSON (`undefined`) or does not match `body`, for an
   * operation with its own code (publishing answers `MANIFEST_INVALID`); default `VALIDATION_FAILED`.
   */
  bodyError?: (error: z.ZodError | undefined) => CutoverError;
  /**
   * For role `machine`: authenticates the agent from its request (its machine credential) where
   * `mount` checks API tokens, before anything is validated, so a caller without one learns nothing
   * about the body; answers the machine's name (the caller is then `machine:<name>`).
   */
  authenticate?: (c: Context<ApiEnv>) => Promise<string>;
  /** A raw (non-JSON) request body, documented by content type. */
  rawBody?: string;
  /** Success status and body; `raw` responses (streams) give a content type instead. */
  status: number;
  /**
   * The answer's schema: it documents the answer and maps it to the wire (times in ms become ISO
   * 8601 strings); the handler's result is passed through it before it is sent.
   */
  response?: z.ZodType;
  rawResponse?: string;
  handle(input: { params: P; query: Q; body: B; who: Caller; c: Context<ApiEnv> }): Promise<unknown>;
}

/** A handler's answer with a status other than the route's own (publishing the same release again: 200). */
export class Answer {
  readonly body: unknown;
  readonly status: number;
  constructor(body: unknown, status: number) {
    this.body = body;
    this.status = status;
  }
}

/**
 * The one place an answer is mapped to the wire: through its route's response schema, whose
 * codecs turn the services' millisecond times into ISO 8601 strings. An answer that does not fit
 * its schema is a bug of the server (`INTERNAL`, logged), not something to send half-mapped.
 */
function toWire(schema: z.ZodType | undefined, result: unknown): unknown {
  return schema ? schema.parse(result) : result;
}

/** Keeps the handler's input types tied to the schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Reads a JSON body of at most `maxApiBody` bytes (`BODY_TOO_LARGE` past it, counted while it streams);
 * an empty body is `{}`. Text that is not JSON is `onInvalid()`.
 */
export async function readJson(c: Context<ApiEnv>, onInvalid = (): CutoverError => invalidInput('VALIDATION_FAILED', 'The request body', [{ path: '', message: 'must be a JSON object' }])): Promise<unknown> {
  const text = await readBodyText(c.req.raw, c.get('maxBody'));
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    throw onInvalid();
  }
}

/** The route's body, parsed by its schema once, here; services take the typed result. */
async function parseBody(r: RouteSpec, c: Context<ApiEnv>): Promise<unknown> {
  if (!r.body) return undefined;
  const { bodyError } = r;
  const raw = await (bodyError ? readJson(c, () => bodyError(undefined)) : readJson(c));
  if (!bodyError) return validate(r.body, raw, 'The request body');
  const parsed = r.body.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw bodyError(parsed.error);
}

/**
 * Registers the routes on a Hono app: request id, token check, role check, then parameter, query
 * and body validation, in that order, so a caller without the role learns nothing about the body.
 */
export function mount(
  app: Hono<ApiEnv>,
  routes: RouteSpec[],
  findToken: (token: string) => Promise<TokenRecord | undefined>,
  maxBodyBytes = DEFAULT_MAX_API_BODY,
): void {
  for (const r of routes) {
    const honoPath = r.path.replace(/\{(\w+)\}/g, ':$1');
    app.on(r.method.toUpperCase(), honoPath, async (c) => {
      const requestId = REQUEST_ID.test(c.req.header('x-request-id') ?? '') ? c.req.header('x-request-id')! : randomUUID();
      c.header('x-request-id', requestId);
      c.set('maxBody', maxBodyBytes);
      let who: Caller = { actor: 'anonymous', role: 'viewer', requestId };
      if (r.role !== 'public' && r.role !== 'machine') {
        const header = c.req.header('authorization') ?? '';
        const token = header.startsWith('Bearer ') ? await findToken(header.slice(7).trim()) : undefined;
        if (!token) {
          throw new CutoverError('UNAUTHORIZED', 'missing, wrong or revoked API token; send `Authorization: Bearer <token>` (CUTOVER_TOKEN for the CLI)');
        }
        const label = `${r.method.toUpperCase()} ${r.path} (${r.operationId})`;
        const refused = accessProblem(token, { label, role: r.role, ...(r.publisher ? { publisher: r.publisher, channel: c.req.param('name') } : {}) });
        if (refused) throw new CutoverError('FORBIDDEN', refused.message, { details: refused.details });
        who = { actor: token.name, role: token.role, requestId };
      }
      if (r.authenticate) who = { actor: `machine:${await r.authenticate(c)}`, role: 'viewer', requestId };
      const params = r.params ? validate(r.params, c.req.param(), 'The path') : {};
      const query = r.query ? validate(r.query, c.req.query(), 'The query') : {};
      const body = await parseBody(r, c);
      const result = await r.handle({ params, query, body, who, c });
      if (result instanceof Response) return result;
      if (result instanceof Answer) return c.json(toWire(r.response, result.body) as object, result.status as 200);
      return c.json(toWire(r.response, result) as object, r.status as 200);
    });
  }
}

/** A route parameter schema: `{name}` must be a plain non-empty string. */
export function pathParams<K extends string>(...names: K[]): z.ZodType<Record<K, string>> {
  const shape: Record<string, z.ZodString> = {};
  for (const n of names) shape[n] = z.string().min(1);
  return z.object(shape) as unknown as z.ZodType<Record<K, string>>;
}

