import { Hono } from 'hono';
import { dirname } from 'node:path';
import { CutoverError, diskFullError, httpStatusFor, isCutoverError } from '../shared/index.ts';
import { hashToken } from '../control/index.ts';
import { openApiDocument } from './openapi.ts';
import { mount, route } from './route.ts';
import type { ApiEnv, RouteSpec } from './route.ts';
import { adminRoutes } from './routes-admin.ts';
import { channelRoutes } from './routes-channels.ts';
import { instanceRoutes } from './routes-instances.ts';
import { logRoutes } from './routes-logs.ts';
import { releaseRoutes } from './routes-releases.ts';
import { fleetRoutes } from './routes-fleet.ts';
import { trafficRoutes } from './routes-traffic.ts';
import { lifecycleRoutes } from './routes-lifecycle.ts';
import type { ApiDeps } from './api-deps.ts';
import { machineRoutes } from './routes-machines.ts';
import { appConfigRoutes } from './routes-app-config.ts';
import { tlsRoutes } from './routes-tls.ts';

/** Every operation of the API: what `createApi` serves and what `/api/openapi.json` describes. */
export function apiRoutes(deps: ApiDeps): RouteSpec[] {
  const routes: RouteSpec[] = [
    route({
      method: 'get',
      path: '/api/health',
      role: 'public',
      operationId: 'health',
      summary: 'Liveness of the server',
      tag: 'meta',
      status: 200,
      handle: async () => ({ ok: true }),
    }),
    ...releaseRoutes(deps),
    ...instanceRoutes(deps),
    ...logRoutes(deps),
    ...channelRoutes(deps),
    ...adminRoutes(deps),
    ...fleetRoutes(deps),
    ...trafficRoutes(deps),
    ...lifecycleRoutes(deps),
    ...machineRoutes(deps),
    ...appConfigRoutes(deps),
    ...tlsRoutes(deps),
  ];
  let document: object | undefined;
  routes.push(
    route({
      method: 'get',
      path: '/api/openapi.json',
      role: 'public',
      operationId: 'openapi',
      summary: 'This API as an OpenAPI 3.1 document',
      tag: 'meta',
      status: 200,
      handle: async () => (document ??= openApiDocument(routes, deps.version ?? '0.0.0')),
    }),
  );
  return routes;
}

/**
 * The control plane's HTTP API: JSON, bearer-token auth, one error body `{code, message, details}`.
 * Handlers only translate HTTP to calls of the services; decisions live in the services.
 */
export function createApi(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  app.onError((error, c) => {
    // A full disk outside the store (an artifact upload) names where: the file's directory.
    const path = (error as unknown as { path?: unknown }).path;
    const full = diskFullError(error, typeof path === 'string' ? dirname(path) : "the server's data directory");
    const e = isCutoverError(error) ? error : (full ?? new CutoverError('INTERNAL', 'internal error; see the server log', { cause: error }));
    if (e.code === 'DISK_FULL') deps.log.error({ err: e.message, path: c.req.path }, 'request failed: disk full');
    if (e.code === 'INTERNAL') deps.log.error({ err: (error as Error).message, stack: (error as Error).stack, path: c.req.path }, 'request failed');
    return c.json(e.toJSON(), httpStatusFor(e.code) as 500);
  });
  app.notFound((c) =>
    c.json({ code: 'NOT_FOUND', message: `no API route ${c.req.method} ${c.req.path}; see /api/openapi.json`, details: {} }, 404),
  );
  mount(app, apiRoutes(deps), (token) => deps.store.findTokenByHash(hashToken(token)), deps.maxApiBody);
  return app;
}
