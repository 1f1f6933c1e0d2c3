import { z } from 'zod';
import { withReason } from '../shared/index.ts';
import { changeHosts, deleteInstance, pruneArtifacts } from '../deploy/index.ts';
import { hostnameField } from '../control/index.ts';
import { pushedDesired } from './api-deps.ts';
import type { ApiDeps } from './api-deps.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { instanceSchema } from './schemas.ts';

const reasonField = z.string().max(500).optional();
const deleteSchema = z.object({ reason: reasonField }).strict();
const hostsSchema = z
  .object({ hosts: z.array(hostnameField).min(1, 'needs at least one host name').max(100), reason: reasonField })
  .strict();
const pruneSchema = z.object({ dryRun: z.boolean().default(false).describe('Only say what would go.') }).strict();
const decisionSchema = z.object({ digest: z.string(), size: z.number().int(), why: z.array(z.string()) });

/** The default of `pruneKeepReleases`, for tests that build the API without settings. */
const KEEP_PER_INSTANCE = 3;

/** An instance's lifecycle beyond create/update: delete it, change its host names, prune artifacts. */
export function lifecycleRoutes(deps: ApiDeps): RouteSpec[] {
  const name = pathParams('name');
  return [
    route({
      method: 'delete',
      path: '/api/instances/{name}',
      role: 'admin',
      operationId: 'deleteInstance',
      summary: 'Delete an instance: drain and stop its slots, forget its routes and its record',
      description:
        'Refused (409 INSTANCE_LOCKED) while a deployment runs or its lock is held. Its deployments stay in the history; the audit entry is `instance.delete`.',
      tag: 'instances',
      params: name,
      body: deleteSchema,
      status: 200,
      response: z.object({ instance: z.string(), app: z.string(), hosts: z.array(z.string()), stopped: z.array(z.string()) }),
      handle: async ({ params, body, who }) =>
        pushedDesired(deps, await deleteInstance(deps, params.name, withReason(who, body.reason))),
    }),
    route({
      method: 'put',
      path: '/api/instances/{name}/hosts',
      role: 'deployer',
      operationId: 'setHosts',
      summary: "Replace an instance's host names; the router serves the new ones at once",
      description: 'Refused (409 HOST_IN_USE) if another instance has one of them, and (409 INSTANCE_LOCKED) while a deployment runs.',
      tag: 'instances',
      params: name,
      body: hostsSchema,
      status: 200,
      response: instanceSchema,
      handle: async ({ params, body, who }) =>
        pushedDesired(deps, await changeHosts(deps, params.name, body.hosts, withReason(who, body.reason))),
    }),
    route({
      method: 'post',
      path: '/api/prune',
      role: 'admin',
      operationId: 'prune',
      summary: "Delete the agent's artifacts no later deploy needs at hand",
      description:
        "Keeps what a slot runs or keeps warm and each instance's last `pruneKeepReleases` releases; the server keeps every published release's artifact, so a later deploy fetches a pruned one again by digest. With dryRun, only says what would go.",
      tag: 'admin',
      body: pruneSchema,
      status: 200,
      response: z.object({
        dryRun: z.boolean(),
        keepPerInstance: z.number().int(),
        serverReleases: z.number().int(),
        keep: z.array(decisionSchema),
        remove: z.array(decisionSchema),
        freedBytes: z.number().int(),
        refused: z.array(z.object({ digest: z.string(), message: z.string() })),
      }),
      handle: async ({ body }) => pruneArtifacts(deps, { dryRun: body.dryRun, keepPerInstance: deps.pruneKeepReleases ?? KEEP_PER_INSTANCE }),
    }),
  ];
}
