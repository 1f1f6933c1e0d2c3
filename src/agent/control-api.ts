import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { z } from 'zod';
import { CutoverError, diskFullError, httpStatusFor, invalidInput, isColor, isCutoverError, validate } from '../shared/index.ts';
import type { Color, Logger } from '../shared/index.ts';
import type { AgentCore } from './agent-core.ts';

const healthSchema = z.object({
  path: z.string().startsWith('/'),
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  healthyThreshold: z.number().int().positive(),
  unhealthyThreshold: z.number().int().positive(),
});
const startSchema = z.object({
  version: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  start: z.string().min(1),
  env: z.record(z.string(), z.string()),
  health: healthSchema,
  stopTimeoutMs: z.number().int().nonnegative(),
  deploymentId: z.string().min(1),
  drain: z.object({ path: z.string().startsWith('/'), intervalMs: z.number().int().positive().optional() }).strict().optional(),
});
const hostsSchema = z.object({ hosts: z.array(z.string().min(1)).min(1) });
const shiftSchema = z.object({ color: z.enum(['blue', 'green']), percent: z.number().int().min(1).max(99) });
// The router's own rule (it travels in a header and a cookie); the upper bound keeps it sane.
const previewSchema = z.object({ token: z.string().min(16).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').nullable() });
/** A maintenance page is persisted in the agent state (rewritten at every change), so it is bounded. */
const maintenanceSchema = z
  .object({
    html: z.string().max(256 * 1024).optional(),
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
  })
  .strict();
const waitSchema = z.object({ timeoutMs: z.number().int().positive().max(3_600_000) });

/** A route parameter; Hono types them optional when routes are chained through middleware. */
const param = (c: { req: { param(name: string): string | undefined } }, name: string): string => c.req.param(name) ?? '';

type Env = { Bindings: HttpBindings };

const digestOf = (token: string) => createHash('sha256').update(token).digest();

async function body<T>(c: Context<Env>, schema: z.ZodType<T>): Promise<T> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: '', message: 'must be JSON' }]);
  }
  return validate(schema, raw, 'The request body');
}

function color(c: Context<Env>): Color {
  const value = param(c, 'color');
  if (!isColor(value)) throw new CutoverError('VALIDATION_FAILED', `colour must be blue or green, not "${value}"`);
  return value;
}

/**
 * The agent's private control API: what the control plane calls to prepare, start, check, flip and
 * stop slots. Bearer-token protected; it should listen on a private address only.
 */
export function createControlApi(core: AgentCore, token: string, log?: Pick<Logger, 'warn' | 'error'>) {
  const expected = digestOf(token);
  const app = new Hono<Env>();

  // Every failure is logged here with its real cause, and the caller (the server) gets the same
  // message: "see its log" is useless when the log has nothing. A full disk names the directory.
  app.onError((error, c) => {
    const e = isCutoverError(error)
      ? error
      : (diskFullError(error, core.dataDir) ??
        new CutoverError('INTERNAL', `the agent failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
    const status = httpStatusFor(e.code);
    const fields = { method: c.req.method, path: c.req.path, code: e.code, err: e.message };
    if (status >= 500) log?.error({ ...fields, ...(e !== error && error instanceof Error ? { stack: error.stack } : {}) }, 'agent request failed');
    else if (status !== 401 && status !== 404) log?.warn(fields, 'agent request refused');
    return c.json(e.toJSON(), status as 500);
  });
  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no agent route ${c.req.method} ${c.req.path}`, details: {} }, 404));

  // Open like the rest of /v1/health: whether slots have their own uids is no secret, and an
  // operator's monitoring may want it.
  app.get('/v1/health', (c) => c.json({ ok: true, isolation: core.isolation }));

  app.use('/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? digestOf(header.slice(7)) : undefined;
    if (!given || !timingSafeEqual(given, expected)) {
      throw new CutoverError('UNAUTHORIZED', 'missing or wrong agent token');
    }
    await next();
  });

  app.get('/v1/state', (c) => c.json({ isolation: core.isolation, instances: core.describe() }));

  app.get('/v1/instances/:name', (c) => {
    const found = core.describe(param(c, 'name'))[0];
    if (!found) throw new CutoverError('INSTANCE_NOT_FOUND', `the agent does not know instance "${param(c, 'name')}"`);
    return c.json(found);
  });

  app.get('/v1/instances/:name/stats', (c) => {
    const found = core.stats(param(c, 'name'));
    if (!found) throw new CutoverError('INSTANCE_NOT_FOUND', `the router has no instance "${param(c, 'name')}"`);
    return c.json(found);
  });
  // Prometheus text of every instance's per-colour counters (on this private port, with the token).
  app.get('/v1/metrics', (c) => c.body(core.metricsText(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.on('HEAD', '/v1/artifacts/:digest', async (c) =>
    c.body(null, (await core.hasArtifact(param(c, 'digest'))) ? 200 : 404),
  );
  app.get('/v1/artifacts', async (c) => c.json({ artifacts: await core.listArtifacts() }));
  app.delete('/v1/artifacts/:digest', async (c) => {
    await core.deleteArtifact(param(c, 'digest'));
    return c.json({ ok: true });
  });
  app.put('/v1/artifacts/:digest', async (c) => {
    await core.putArtifact(param(c, 'digest'), c.env.incoming);
    return c.json({ ok: true });
  });

  app.put('/v1/instances/:name', async (c) => {
    const { hosts } = await body(c, hostsSchema);
    await core.ensureInstance(param(c, 'name'), hosts);
    return c.json({ ok: true });
  });
  app.delete('/v1/instances/:name', async (c) => {
    await core.removeInstance(param(c, 'name'));
    return c.json({ ok: true });
  });

  app.post('/v1/instances/:name/slots/:color/start', async (c) => {
    const spec = await body(c, startSchema);
    return c.json(await core.startSlot(spec, param(c, 'name'), color(c)));
  });
  app.post('/v1/instances/:name/slots/:color/wait', async (c) => {
    const { timeoutMs } = await body(c, waitSchema);
    return c.json(await core.waitHealthy(param(c, 'name'), color(c), timeoutMs));
  });
  app.post('/v1/instances/:name/slots/:color/stop', async (c) => {
    await core.stopSlot(param(c, 'name'), color(c));
    return c.json({ ok: true });
  });
  app.post('/v1/instances/:name/flip', async (c) => {
    const { color: to, expectVersion, reason } = await body(
      c,
      z.object({
        color: z.enum(['blue', 'green']),
        expectVersion: z.string().min(1).optional(),
        reason: z.enum(['forward', 'rollback']).default('forward'),
      }),
    );
    return c.json(await core.flip(param(c, 'name'), to, expectVersion, reason));
  });

  app.post('/v1/instances/:name/shift', async (c) => {
    const { color: to, percent } = await body(c, shiftSchema);
    return c.json(core.shift(param(c, 'name'), to, percent));
  });
  app.put('/v1/instances/:name/preview', async (c) => {
    const { token: preview } = await body(c, previewSchema);
    await core.setPreview(param(c, 'name'), preview);
    return c.json({ ok: true });
  });
  app.put('/v1/instances/:name/maintenance', async (c) => {
    await core.setMaintenance(param(c, 'name'), await body(c, maintenanceSchema));
    return c.json({ ok: true });
  });
  app.delete('/v1/instances/:name/maintenance', async (c) => {
    await core.setMaintenance(param(c, 'name'), null);
    return c.json({ ok: true });
  });

  app.get('/v1/instances/:name/logs', (c) => {
    const name = param(c, 'name');
    const requested = c.req.query('color');
    if (requested !== undefined && !isColor(requested)) {
      throw new CutoverError('VALIDATION_FAILED', `color must be blue or green, not "${requested}"`);
    }
    const requestedTail = Number(c.req.query('tail') ?? 100);
    const lines = Number.isInteger(requestedTail) && requestedTail >= 0 ? Math.min(requestedTail, 10_000) : 100;
    const { color: which, lines: tail } = core.logLines(name, requested, lines);
    const follow = c.req.query('follow') === '1';
    const encoder = new TextEncoder();
    let unsubscribe: (() => void) | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of tail) controller.enqueue(encoder.encode(`${line}\n`));
        if (!follow) return controller.close();
        unsubscribe = core.follow(name, which, (line) => controller.enqueue(encoder.encode(`${line}\n`)));
      },
      cancel() {
        unsubscribe?.();
      },
    });
    return c.body(stream, 200, { 'content-type': 'text/plain; charset=utf-8', 'x-cutover-color': which });
  });

  return app;
}
