import { z } from 'zod';
import { CutoverError, invalidInput, withReason } from '../shared/index.ts';
import { rolloutFromRequest } from '../deploy/index.ts';
import {
  bulkSetTarget,
  bulkTargetSchema,
  createInstance,
  createInstanceSchema,
  listInstanceViews,
  listInstancesQuery,
  loadPointerIndex,
  setInstanceTarget,
  setTargetSchema,
  updateInstance,
  updateInstanceSchema,
} from '../control/index.ts';
import { pushedDesired } from './api-deps.ts';
import type { ApiDeps } from './api-deps.ts';
import { deploymentForRole, instanceStatus, statusForRole } from './instance-status.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { deploymentSchema, instanceSchema, instanceStatusSchema, instanceViewSchema, listOf, targetChangeSchema } from './schemas.ts';
import { cursorField, cursorOf, numericCursor } from './paging.ts';
import { mustGetInstance } from '../store/index.ts';

const deploySchema = z
  .object({
    version: z.string().min(1, 'is required').optional().describe('The release to deploy; required unless `appConfigOnly`.'),
    appConfigOnly: z.boolean().optional().describe("Deploy the instance's current release (or `version`) with the current app config: blue-green, rollbackable."),
    reason: z.string().max(500).optional(),
    steps: z
      .array(z.number())
      .min(1)
      .max(21)
      .optional()
      .describe('A gradual cutover: percent of new clients on the new release at each step before the flip, e.g. [10, 50, 100]. 0 = preview only.'),
    pause: z
      .union([z.literal('manual'), z.string(), z.number()])
      .optional()
      .describe('Hold between steps: a duration ("2m", or ms) or "manual" (until `resume`). Default 1m.'),
    analysis: z.boolean().optional().describe('Compare the new release with the old one over each step; a breach aborts. Default false.'),
    skipTests: z.boolean().optional().describe("Deploy without the release's smoke and verify tests: needs an admin token and a reason; audited."),
    skipUnreachable: z
      .boolean()
      .optional()
      .describe('Deploy to the connected machines of the instance, leaving out the unreachable ones (they converge when back): needs an admin token and a reason; audited. Without it, an unreachable machine refuses the deployment.'),
    rolling: z
      .object({
        maxUnavailable: z.number().int().min(1).max(1000).default(1).describe('Machines per batch.'),
        maxFailures: z
          .number()
          .int()
          .min(0)
          .max(1000)
          .optional()
          .describe('Machines that may fail (not healthy in time, or no flip acknowledgement) before the rollout stops; each is left on the previous release and the deployment ends `partial`. Default 0; fewer than the machines taking part.'),
      })
      .strict()
      .optional()
      .describe('Machine by machine instead of one barrier flip: each batch starts, is health-checked and flips before the next; a failure beyond `maxFailures` flips the done batches back.'),
  })
  .strict();

const rollbackSchema = z
  .object({
    reason: z.string().max(500).optional(),
    to: z.string().min(1).max(128).optional().describe('Roll back to this version, one the instance ran before (default: the one before the current).'),
  })
  .strict();
const waitQuery = z
  .object({ wait: z.coerce.number().int().min(0).max(600_000).optional().describe('Wait up to this many ms for the deployment to finish.') })
  .strict();
const historyQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).optional().describe('Page size, default 50.'),
    cursor: cursorField,
    before: z.coerce.number().int().min(0).optional().describe('The older name of `cursor`.'),
  })
  .strict();
/** `skipTests` and `skipUnreachable` are an admin's decision, and the audit log says why (FORBIDDEN, VALIDATION_FAILED otherwise). */
function adminSkipAllowed(who: { role: string }, reason: string | undefined, what: 'skipTests' | 'skipUnreachable'): void {
  const doing = what === 'skipTests' ? "skipping a release's tests" : 'deploying without the unreachable machines';
  const flag = what === 'skipTests' ? '--skip-tests' : '--skip-unreachable';
  if (who.role !== 'admin') throw new CutoverError('FORBIDDEN', `${doing} needs an admin token; deploy without ${flag}, or ask an admin`);
  if (!reason?.trim()) {
    throw invalidInput('VALIDATION_FAILED', 'The request body', [{ path: 'reason', message: `${what} needs a reason for the audit log, e.g. --reason "hotfix, web-3 is down for repair"` }]);
  }
}

export function instanceRoutes(deps: ApiDeps): RouteSpec[] {
  const { store, deployer } = deps;
  const name = pathParams('name');
  return [
    route({
      method: 'post',
      path: '/api/instances',
      role: 'deployer',
      operationId: 'createInstance',
      summary: 'Create an instance',
      tag: 'instances',
      body: createInstanceSchema,
      status: 201,
      response: instanceSchema,
      handle: async ({ body, who }) => pushedDesired(deps, await createInstance(deps, body, who)),
    }),
    route({
      method: 'get',
      path: '/api/instances',
      role: 'viewer',
      operationId: 'listInstances',
      summary: 'List instances with their resolved targets, a page at a time',
      tag: 'instances',
      query: listInstancesQuery,
      status: 200,
      response: listOf(instanceViewSchema),
      handle: async ({ query }) => {
        const { selector, limit } = query;
        const after = cursorOf(query, 'after', query.after);
        return listInstanceViews(deps, { selector, limit, ...(after === undefined ? {} : { after }) });
      },
    }),
    route({
      method: 'post',
      path: '/api/instances/target',
      role: 'deployer',
      operationId: 'setTargets',
      summary: 'Retarget every instance a selector matches',
      description:
        'With dryRun, only lists the changes and returns a `selection` fingerprint; pass it back as `confirm` to apply exactly what was shown. All changes are applied in one transaction.',
      tag: 'instances',
      body: bulkTargetSchema,
      status: 200,
      response: z.object({
        selector: z.string(),
        matched: z.number().int(),
        changes: z.array(targetChangeSchema),
        selection: z.string(),
        applied: z.boolean(),
      }),
      handle: async ({ body, who }) => bulkSetTarget(deps, body, who),
    }),
    route({
      method: 'get',
      path: '/api/instances/{name}',
      role: 'viewer',
      operationId: 'getInstance',
      summary: 'Show an instance: resolved target, runtime state, last deployment',
      tag: 'instances',
      params: name,
      status: 200,
      response: instanceStatusSchema,
      handle: async ({ params, who }) => statusForRole(await instanceStatus(deps, params.name, await loadPointerIndex(store)), who.role),
    }),
    route({
      method: 'patch',
      path: '/api/instances/{name}',
      role: 'deployer',
      operationId: 'updateInstance',
      summary: "Change an instance's maintenance window, environment, tenant or labels",
      tag: 'instances',
      params: name,
      body: updateInstanceSchema,
      status: 200,
      response: instanceViewSchema,
      handle: async ({ params, body, who }) => updateInstance(deps, params.name, body, who),
    }),
    route({
      method: 'put',
      path: '/api/instances/{name}/target',
      role: 'deployer',
      operationId: 'setTarget',
      summary: 'Set what an instance should run',
      tag: 'instances',
      params: name,
      body: setTargetSchema,
      status: 200,
      response: instanceViewSchema,
      handle: async ({ params, body, who }) => setInstanceTarget(deps, params.name, body, who),
    }),
    route({
      method: 'post',
      path: '/api/instances/{name}/deploy',
      role: 'deployer',
      operationId: 'deploy',
      summary: 'Deploy a release to an instance (blue-green)',
      tag: 'deployments',
      params: name,
      query: waitQuery,
      body: deploySchema,
      status: 202,
      response: deploymentSchema,
      handle: async ({ params, query, body, who }) => {
        const rollout = rolloutFromRequest(body);
        if (body.skipTests) adminSkipAllowed(who, body.reason, 'skipTests');
        if (body.skipUnreachable) adminSkipAllowed(who, body.reason, 'skipUnreachable');
        const version = body.version ?? (body.appConfigOnly ? (await mustGetInstance(deps.store, params.name)).currentVersion : undefined);
        if (version === undefined || version === null) {
          throw new CutoverError('VALIDATION_FAILED', body.appConfigOnly ? `instance "${params.name}" serves nothing yet; deploy a version first` : 'version is required (or appConfigOnly)');
        }
        const started = await deployer.deploy({
          instance: params.name,
          version,
          ...(rollout ? { rollout } : {}),
          ...(body.skipTests ? { skipTests: true } : {}),
          ...(body.skipUnreachable ? { skipUnreachable: true } : {}),
          ...(body.rolling ? { rolling: body.rolling } : {}),
          by: withReason(who, body.reason),
        });
        return query.wait ? deployer.wait(started.id, query.wait) : started;
      },
    }),
    route({
      method: 'post',
      path: '/api/instances/{name}/rollback',
      role: 'deployer',
      operationId: 'rollback',
      summary: 'Roll an instance back to its previous release',
      tag: 'deployments',
      params: name,
      query: waitQuery,
      body: rollbackSchema,
      status: 202,
      response: deploymentSchema,
      handle: async ({ params, query, body, who }) => {
        const started = await deployer.rollback({
          instance: params.name,
          by: withReason(who, body.reason),
          ...(body.to ? { to: body.to } : {}),
        });
        return query.wait ? deployer.wait(started.id, query.wait) : started;
      },
    }),
    route({
      method: 'get',
      path: '/api/instances/{name}/deployments',
      role: 'viewer',
      operationId: 'listDeployments',
      summary: "An instance's deployments, newest first, a page at a time",
      description: 'Pass `next` back as `cursor` for the following page; `next` is null on the last one.',
      tag: 'deployments',
      params: name,
      query: historyQuery,
      status: 200,
      response: listOf(deploymentSchema),
      handle: async ({ params, query, who }) => {
        const limit = query.limit ?? 50;
        const before = numericCursor(cursorOf(query, 'before', query.before));
        const page = await store.listDeployments({ instance: params.name, limit, ...(before === undefined ? {} : { before }) });
        // No history at all: an unknown name is an error (a deleted instance keeps its history).
        if (page.length === 0 && before === undefined) await mustGetInstance(store, params.name);
        return {
          items: page.map((d) => deploymentForRole(d, who.role)),
          next: page.length === limit ? String(page.at(-1)!.createdAt) : null,
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/deployments/{id}',
      role: 'viewer',
      operationId: 'getDeployment',
      summary: 'Show a deployment',
      tag: 'deployments',
      params: pathParams('id'),
      query: waitQuery,
      status: 200,
      response: deploymentSchema,
      handle: async ({ params, query, who }) => {
        const d = query.wait ? await deployer.wait(params.id, query.wait) : await store.getDeployment(params.id);
        if (!d) throw new CutoverError('DEPLOYMENT_NOT_FOUND', `no deployment ${params.id}`);
        return deploymentForRole(d, who.role);
      },
    }),
    route({
      method: 'get',
      path: '/api/status',
      role: 'viewer',
      operationId: 'status',
      summary: 'Every instance with its runtime state',
      tag: 'instances',
      status: 200,
      response: listOf(instanceStatusSchema),
      handle: async ({ who }) => {
        const [instances, index] = await Promise.all([store.listInstances(), loadPointerIndex(store)]);
        return { items: await Promise.all(instances.map(async (i) => statusForRole(await instanceStatus(deps, i.name, index), who.role))), next: null };
      },
    }),
  ];
}
