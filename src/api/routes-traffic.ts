import { z } from 'zod';
import { withReason } from '../shared/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { deploymentSchema } from './schemas.ts';

const steerSchema = z.object({ reason: z.string().max(500).optional() }).strict();
const previewSchema = z
  .object({
    token: z
      .string()
      .regex(/^[\x21-\x7e]{16,200}$/, 'must be 16–200 printable ASCII characters without spaces')
      .optional()
      .describe('The token to accept; default: a new random one.'),
    reason: z.string().max(500).optional(),
  })
  .strict();
const maintenanceSchema = z
  .object({
    html: z.string().min(1).max(262_144).optional().describe('A complete HTML page; default: a short neutral one.'),
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional().describe('Sent as Retry-After; default 30.'),
    reason: z.string().max(500).optional(),
  })
  .strict();
const reasonOnly = z.object({ reason: z.string().max(500).optional() }).strict();

const previewAccess = z.object({
  instance: z.string(),
  token: z.string(),
  header: z.literal('x-cutover-preview'),
  path: z.string(),
  reaches: z.object({ color: z.string(), version: z.string() }).nullable(),
});

/** Steering a running deployment (abort, resume) and the instance's traffic switches (preview, maintenance). */
export function trafficRoutes(deps: ApiDeps): RouteSpec[] {
  const { deployer, traffic } = deps;
  const id = pathParams('id');
  const name = pathParams('name');
  return [
    route({
      method: 'post',
      path: '/api/deployments/{id}/abort',
      role: 'deployer',
      operationId: 'abortDeployment',
      summary: 'Stop a deployment before its flip: every client goes back to the old release and the new slot stops',
      tag: 'deployments',
      params: id,
      body: steerSchema,
      status: 202,
      response: deploymentSchema,
      handle: async ({ params, body, who }) => deployer.abort(params.id, withReason(who, body.reason)),
    }),
    route({
      method: 'post',
      path: '/api/deployments/{id}/resume',
      role: 'deployer',
      operationId: 'resumeDeployment',
      summary: 'End the hold of the weighted step a deployment is at (a manual pause, or a timed one early)',
      tag: 'deployments',
      params: id,
      body: steerSchema,
      status: 202,
      response: deploymentSchema,
      handle: async ({ params, body, who }) => deployer.resume(params.id, withReason(who, body.reason)),
    }),
    route({
      method: 'put',
      path: '/api/instances/{name}/preview',
      role: 'deployer',
      operationId: 'openPreview',
      summary: 'Let requests carrying a token reach the idle slot (before the flip, or the warm one after it)',
      tag: 'instances',
      params: name,
      body: previewSchema,
      status: 200,
      response: previewAccess,
      handle: async ({ params, body, who }) => traffic.openPreview(params.name, withReason(who, body.reason), body.token),
    }),
    route({
      method: 'delete',
      path: '/api/instances/{name}/preview',
      role: 'deployer',
      operationId: 'closePreview',
      summary: 'Stop accepting the preview token',
      tag: 'instances',
      params: name,
      body: reasonOnly,
      status: 200,
      response: z.object({ instance: z.string(), preview: z.literal(false) }),
      handle: async ({ params, body, who }) => traffic.closePreview(params.name, withReason(who, body.reason)),
    }),
    route({
      method: 'put',
      path: '/api/instances/{name}/maintenance',
      role: 'deployer',
      operationId: 'startMaintenance',
      summary: 'Answer every request of the instance with a maintenance page (503)',
      tag: 'instances',
      params: name,
      body: maintenanceSchema,
      status: 200,
      response: z.object({ instance: z.string(), maintenance: z.boolean() }),
      handle: async ({ params, body, who }) => {
        const { reason, ...page } = body;
        return traffic.setMaintenance(params.name, withReason(who, reason), page);
      },
    }),
    route({
      method: 'delete',
      path: '/api/instances/{name}/maintenance',
      role: 'deployer',
      operationId: 'endMaintenance',
      summary: 'Serve the instance again',
      tag: 'instances',
      params: name,
      body: reasonOnly,
      status: 200,
      response: z.object({ instance: z.string(), maintenance: z.boolean() }),
      handle: async ({ params, body, who }) => traffic.setMaintenance(params.name, withReason(who, body.reason), null),
    }),
  ];
}
