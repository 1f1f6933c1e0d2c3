import { z } from 'zod';
import {
  diffAppConfig,
  rotateKeySchema,
  rotateSecretKey,
  setAppConfig,
  setAppConfigSchema,
  showAppConfig,
  unsetAppConfig,
  unsetAppConfigSchema,
} from '../control/index.ts';
import type { AppConfigDeps } from '../control/index.ts';
import { CutoverError } from '../shared/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { route } from './route.ts';
import type { RouteSpec } from './route.ts';

// App config and secrets (docs/app-config.md). No answer of any role carries a secret's value:
// shown entries give names, layers and fingerprints; a secret's value only ever comes in.

const shownEntrySchema = z.object({
  key: z.string(),
  layer: z.string().describe('Where the value comes from: `release env`, `app shop`, `environment production`, `app shop + environment production`, `instance acme-live`.'),
  secret: z.boolean(),
  value: z.string().nullable().describe('The plain value; null for a secret.'),
  fingerprint: z.string().nullable().describe("A secret's fingerprint: the first 12 hex digits of an HMAC of its value under a key of the server's key ring; null for a plain value."),
  overrides: z.array(z.string()).describe('Lower layers that also set the key.'),
});
export const appConfigViewSchema = z.object({
  instance: z.string(),
  version: z.number().int().describe('The app-config version shown (0: none yet).'),
  release: z.string().nullable().describe('The release whose `env` is the lowest layer.'),
  entries: z.array(shownEntrySchema),
});
export const appConfigDiffSchema = z.object({
  instance: z.string(),
  from: z.number().int().describe('The version compared from: `from`, or the one the live slot runs (0: none).'),
  to: z.number().int(),
  changes: z.array(z.object({ key: z.string(), change: z.enum(['added', 'removed', 'changed']), before: shownEntrySchema.nullable(), after: shownEntrySchema.nullable() })),
});
export const appConfigChangeSchema = z.object({
  version: z.number().int().describe('The version this change made.'),
  key: z.string(),
  layer: z.string(),
  secret: z.boolean(),
  before: z.string().nullable().describe('The plain value before, `secret <fingerprint>`, or null.'),
  after: z.string().nullable(),
});
export const rotationSchema = z.object({ keyId: z.string(), versions: z.number().int(), secrets: z.number().int(), certificates: z.number().int().describe('Edge certificates whose keys were sealed again.') });

const instanceParam = z.object({ name: z.string() });

export function appConfigRoutes(deps: ApiDeps): RouteSpec[] {
  const withKeys = (): AppConfigDeps => {
    const { keyRing } = deps;
    if (keyRing === undefined) throw new CutoverError('SECRET_KEY_MISSING', 'this server has no app-config key ring');
    return { store: deps.store, clock: deps.clock, keyRing };
  };
  const plainDeps: AppConfigDeps = { store: deps.store, clock: deps.clock, keyRing: () => new Map() };
  return [
    route({
      method: 'get',
      path: '/api/instances/{name}/app-config',
      role: 'viewer',
      operationId: 'showAppConfig',
      summary: "An instance's app config: every key, its layer, plain values and secrets' fingerprints",
      tag: 'app-config',
      params: instanceParam,
      status: 200,
      response: appConfigViewSchema,
      handle: async ({ params }) => showAppConfig(deps, params.name),
    }),
    route({
      method: 'get',
      path: '/api/instances/{name}/app-config/diff',
      role: 'viewer',
      operationId: 'diffAppConfig',
      summary: 'What the next deployment would change: the current app config against a version (default: the one the live slot runs)',
      tag: 'app-config',
      params: instanceParam,
      query: z.object({ from: z.coerce.number().int().min(0).optional() }).strict(),
      status: 200,
      response: appConfigDiffSchema,
      handle: async ({ params, query }) => diffAppConfig(deps, params.name, query.from ?? null),
    }),
    route({
      method: 'put',
      path: '/api/app-config',
      role: 'deployer',
      operationId: 'setAppConfig',
      summary: 'Set a plain key at one layer (a new version; audited)',
      tag: 'app-config',
      body: setAppConfigSchema,
      status: 200,
      response: appConfigChangeSchema,
      handle: async ({ body, who }) => setAppConfig(plainDeps, body, false, who),
    }),
    route({
      method: 'post',
      path: '/api/app-config/unset',
      role: 'deployer',
      operationId: 'unsetAppConfig',
      summary: 'Remove a plain key from one layer',
      tag: 'app-config',
      body: unsetAppConfigSchema,
      status: 200,
      response: appConfigChangeSchema,
      handle: async ({ body, who }) => unsetAppConfig(plainDeps, body, false, who),
    }),
    route({
      method: 'put',
      path: '/api/secrets',
      role: 'deployer',
      operationId: 'setSecret',
      summary: 'Set a secret at one layer: sealed with the key ring, answered by fingerprint only',
      tag: 'app-config',
      body: setAppConfigSchema,
      status: 200,
      response: appConfigChangeSchema,
      handle: async ({ body, who }) => setAppConfig(withKeys(), body, true, who),
    }),
    route({
      method: 'post',
      path: '/api/secrets/unset',
      role: 'deployer',
      operationId: 'unsetSecret',
      summary: 'Remove a secret from one layer',
      tag: 'app-config',
      body: unsetAppConfigSchema,
      status: 200,
      response: appConfigChangeSchema,
      handle: async ({ body, who }) => unsetAppConfig(plainDeps, body, true, who),
    }),
    route({
      method: 'post',
      path: '/api/secrets/rotate-key',
      role: 'admin',
      operationId: 'rotateSecretKey',
      summary: 'Re-seal every secret of every kept version with another key, in one transaction',
      tag: 'app-config',
      body: rotateKeySchema,
      status: 200,
      response: rotationSchema,
      handle: async ({ body, who }) => rotateSecretKey(withKeys(), body.to, who),
    }),
  ];
}
