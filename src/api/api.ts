import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { z } from 'zod';
import { CutoverError, httpStatusFor, invalidInput, isColor, isCutoverError, validate } from '../shared/index.ts';
import type { Clock, Color, Logger } from '../shared/index.ts';
import type { ArtifactStore } from '../releases/index.ts';
import type { Role, Store, TokenRecord } from '../store/index.ts';
import type { Deployer, Runtime } from '../deploy/index.ts';
import { createInstance, hashToken, publishRelease, roleAllows } from '../control/index.ts';
import { instanceStatus } from './instance-status.ts';

export interface ApiDeps {
  store: Store;
  deployer: Deployer;
  runtime: Runtime;
  artifacts: ArtifactStore;
  clock: Clock;
  log: Logger;
  /** Streams an instance's slot output from the agent. */
  openLogs(instance: string, query: { color?: Color; tail?: number; follow?: boolean }, signal: AbortSignal): Promise<{ color: string; body: AsyncIterable<Uint8Array> }>;
}

/** A route parameter; Hono types them optional when routes are chained through middleware. */
const param = (c: { req: { param(name: string): string | undefined } }, name: string): string => c.req.param(name) ?? '';

type Env = { Bindings: HttpBindings; Variables: { token: TokenRecord } };

const deploySchema = z.object({ version: z.string().min(1, 'is required'), reason: z.string().max(500).optional() }).strict();
const rollbackSchema = z.object({ reason: z.string().max(500).optional() }).strict();
const MAX_WAIT_MS = 600_000;

async function jsonBody<T>(c: Context<Env>, schema: z.ZodType<T>, what: string): Promise<T> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = text === '' ? {} : JSON.parse(text);
  } catch {
    throw invalidInput('VALIDATION_FAILED', what, [{ path: '', message: 'must be a JSON object' }]);
  }
  return validate(schema, raw, what);
}

function waitMs(c: Context<Env>): number {
  const raw = c.req.query('wait');
  if (raw === undefined) return 0;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new CutoverError('VALIDATION_FAILED', `wait must be a number of milliseconds, not "${raw}"`);
  return Math.min(ms, MAX_WAIT_MS);
}

/**
 * The control plane's HTTP API: JSON, bearer-token auth, one error body `{code, message, details}`.
 * Handlers only translate HTTP to calls of the services; decisions live in the services.
 */
export function createApi(deps: ApiDeps) {
  const { store, deployer } = deps;
  const app = new Hono<Env>();

  app.onError((error, c) => {
    const e = isCutoverError(error) ? error : new CutoverError('INTERNAL', 'internal error; see the server log', { cause: error });
    if (e.code === 'INTERNAL') deps.log.error({ err: (error as Error).message, path: c.req.path }, 'request failed');
    return c.json(e.toJSON(), httpStatusFor(e.code) as 500);
  });
  app.notFound((c) =>
    c.json({ code: 'NOT_FOUND', message: `no API route ${c.req.method} ${c.req.path}; see the README's API section`, details: {} }, 404),
  );

  app.get('/api/health', (c) => c.json({ ok: true }));

  app.use('/api/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? await store.findTokenByHash(hashToken(header.slice(7).trim())) : undefined;
    if (!token) {
      throw new CutoverError('UNAUTHORIZED', 'missing or wrong API token; send `Authorization: Bearer <token>` (CUTOVER_TOKEN for the CLI)');
    }
    c.set('token', token);
    await next();
  });
  const need = (role: Role) => async (c: Context<Env>, next: () => Promise<void>) => {
    const token = c.get('token');
    if (!roleAllows(token.role, role)) {
      throw new CutoverError('FORBIDDEN', `token "${token.name}" has role ${token.role}; this needs ${role} or above`);
    }
    await next();
  };
  const actor = (c: Context<Env>) => c.get('token').name;

  app.post('/api/artifacts', need('deployer'), async (c) => {
    const expected = c.req.query('digest');
    const stored = await deps.artifacts.put(c.env.incoming, expected);
    return c.json(stored, 201);
  });
  app.get('/api/artifacts/:digest', need('viewer'), async (c) => {
    const digest = param(c, 'digest');
    if (!(await deps.artifacts.has(digest))) throw new CutoverError('ARTIFACT_NOT_FOUND', `no artifact ${digest}`);
    const stream = Readable.toWeb(deps.artifacts.open(digest) as Readable) as ReadableStream<Uint8Array>;
    return c.body(stream, 200, { 'content-type': 'application/gzip' });
  });

  app.post('/api/releases', need('deployer'), async (c) => {
    const body = await jsonBody(c, z.unknown(), 'The release');
    const { release, created } = await publishRelease(deps, body, actor(c));
    return c.json({ ...release, created }, created ? 201 : 200);
  });
  app.get('/api/releases', need('viewer'), async (c) => c.json({ releases: await store.listReleases(c.req.query('app')) }));
  app.get('/api/releases/:version', need('viewer'), async (c) => {
    const version = param(c, 'version');
    const appName = c.req.query('app');
    const matches = (await store.listReleases(appName)).filter((r) => r.version === version);
    if (matches.length === 0) {
      throw new CutoverError('RELEASE_NOT_FOUND', `no release ${version}${appName ? ` of app "${appName}"` : ''}; see \`cutover release list\``);
    }
    if (matches.length > 1) {
      throw new CutoverError('VALIDATION_FAILED', `${version} exists for several apps (${matches.map((m) => m.app).join(', ')}); pass --app`);
    }
    return c.json(matches[0]);
  });

  app.post('/api/instances', need('deployer'), async (c) => {
    const body = await jsonBody(c, z.unknown(), 'The instance');
    return c.json(await createInstance(deps, body, actor(c)), 201);
  });
  app.get('/api/instances', need('viewer'), async (c) => c.json({ instances: await store.listInstances() }));
  app.get('/api/instances/:name', need('viewer'), async (c) => c.json(await instanceStatus(deps, param(c, 'name'))));

  app.post('/api/instances/:name/deploy', need('deployer'), async (c) => {
    const { version, reason } = await jsonBody(c, deploySchema, 'The deployment');
    const started = await deployer.deploy({ instance: param(c, 'name'), version, actor: actor(c), ...(reason ? { reason } : {}) });
    const wait = waitMs(c);
    const d = wait ? await deployer.wait(started.id, wait) : started;
    return c.json(d, 202);
  });
  app.post('/api/instances/:name/rollback', need('deployer'), async (c) => {
    const { reason } = await jsonBody(c, rollbackSchema, 'The rollback');
    const started = await deployer.rollback({ instance: param(c, 'name'), actor: actor(c), ...(reason ? { reason } : {}) });
    const wait = waitMs(c);
    const d = wait ? await deployer.wait(started.id, wait) : started;
    return c.json(d, 202);
  });
  app.get('/api/instances/:name/deployments', need('viewer'), async (c) =>
    c.json({ deployments: await store.listDeployments({ instance: param(c, 'name'), limit: 50 }) }),
  );
  app.get('/api/deployments/:id', need('viewer'), async (c) => {
    const id = param(c, 'id');
    const wait = waitMs(c);
    const d = wait ? await deployer.wait(id, wait) : await store.getDeployment(id);
    if (!d) throw new CutoverError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}`);
    return c.json(d);
  });

  app.get('/api/status', need('viewer'), async (c) => {
    const instances = await store.listInstances();
    return c.json({ instances: await Promise.all(instances.map((i) => instanceStatus(deps, i.name))) });
  });

  app.get('/api/audit', need('viewer'), async (c) => {
    const subject = c.req.query('subject');
    return c.json({ entries: await store.listAudit({ ...(subject ? { subject } : {}), limit: 200 }) });
  });

  app.get('/api/instances/:name/logs', need('viewer'), async (c) => {
    const name = param(c, 'name');
    if (!(await store.getInstance(name))) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"`);
    const color = c.req.query('color');
    if (color !== undefined && !isColor(color)) throw new CutoverError('VALIDATION_FAILED', `--color must be blue or green, not "${color}"`);
    const tail = c.req.query('tail') === undefined ? 100 : Number(c.req.query('tail'));
    const abort = new AbortController();
    c.env.incoming.once('close', () => abort.abort());
    const logs = await deps.openLogs(name, { ...(color ? { color } : {}), tail: Number.isInteger(tail) && tail >= 0 ? tail : 100, follow: c.req.query('follow') === '1' }, abort.signal);
    const iterator = logs.body[Symbol.asyncIterator]();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch {
          controller.close();
        }
      },
      cancel() {
        abort.abort();
      },
    });
    return c.body(stream, 200, { 'content-type': 'text/plain; charset=utf-8', 'x-cutover-color': logs.color });
  });

  return app;
}
