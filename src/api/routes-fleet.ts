import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import {
  activeHolds,
  fleetPolicyPatchSchema,
  getFleetPolicy,
  holdInstance,
  holdSchema,
  isoTimeField,
  parseSelector,
  matchesSelector,
  resumeRollout,
  resumeSchema,
  unholdInstance,
  unholdSchema,
  updateFleetPolicy,
} from '../control/index.ts';
import { explain, localDateTime } from '../fleet/index.ts';
import type { InstancePlan } from '../fleet/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { mustGetInstance } from '../store/index.ts';
import { fleetPolicyChangeSchema, haltViewSchema, holdViewSchema, isoTime, listOf, planEntrySchema, tickReportSchema } from './schemas.ts';

const atQuery = isoTimeField()
  .optional()
  .describe('Plan as of this time instead of now (the fleet as it is now).');

function whenOf(entry: InstancePlan, at: number): number | null {
  const d = entry.decision;
  if (d.kind === 'upgrade' || d.kind === 'capacity') return at;
  if (d.kind === 'waiting-window') return d.opensAt;
  if (d.kind === 'retry-wait') return d.retryAt;
  return null;
}

function present(entry: InstancePlan, at: number, maxAttempts: number) {
  const when = whenOf(entry, at);
  return {
    ...entry,
    why: explain(entry, at, { maxAttempts }),
    when,
    whenLocal: when === null ? null : localDateTime(when, entry.zone),
  };
}

export function fleetRoutes(deps: ApiDeps): RouteSpec[] {
  const needScheduler = () => {
    if (!deps.scheduler) throw new CutoverError('INTERNAL', 'this server runs without the fleet scheduler');
    return deps.scheduler;
  };
  const name = pathParams('name');
  return [
    route({
      method: 'get',
      path: '/api/fleet',
      role: 'viewer',
      operationId: 'fleet',
      summary: 'The fleet policy, halted rollouts, holds and the last scheduler tick',
      tag: 'fleet',
      status: 200,
      response: z.object({ policy: z.record(z.string(), z.unknown()), halts: z.array(haltViewSchema), holds: z.array(holdViewSchema), lastTick: tickReportSchema.nullable() }),
      handle: async () => ({
        policy: await getFleetPolicy(deps.store),
        halts: await deps.store.listHalts({ active: true }),
        holds: await activeHolds(deps.store, deps.clock.now()),
        lastTick: deps.scheduler?.lastReport() ?? null,
      }),
    }),
    route({
      method: 'patch',
      path: '/api/fleet/policy',
      role: 'admin',
      operationId: 'updateFleetPolicy',
      summary: 'Change the fleet policy (waves, windows, parallelism, failure budget, retries)',
      description: 'The old name `maxParallelPerHost` is taken as `maxParallelPerMachine`, with a warning in the answer; both with different values are refused (`VALIDATION_FAILED`, naming both).',
      tag: 'fleet',
      body: fleetPolicyPatchSchema,
      status: 200,
      response: fleetPolicyChangeSchema,
      handle: async ({ body, who }) => {
        const { policy, warnings } = await updateFleetPolicy(deps, body, who);
        return warnings.length ? { ...policy, warnings } : policy;
      },
    }),
    route({
      method: 'post',
      path: '/api/fleet/resume',
      role: 'admin',
      operationId: 'resumeRollout',
      summary: "Lift a version's halted rollout",
      tag: 'fleet',
      body: resumeSchema,
      status: 200,
      response: haltViewSchema,
      handle: async ({ body, who }) => resumeRollout(deps, body, who),
    }),
    route({
      method: 'post',
      path: '/api/fleet/tick',
      role: 'admin',
      operationId: 'tick',
      summary: 'Run one scheduler pass now',
      tag: 'fleet',
      status: 200,
      response: tickReportSchema,
      handle: async () => needScheduler().tick(),
    }),
    route({
      method: 'get',
      path: '/api/fleet/plan',
      role: 'viewer',
      operationId: 'plan',
      summary: 'Dry run: what the scheduler would upgrade, when, in which wave, and why not for the rest',
      tag: 'fleet',
      query: z
        .object({
          at: atQuery,
          selector: z.string().max(1000).optional(),
          limit: z.coerce.number().int().min(1).max(100_000).default(1000),
        })
        .strict(),
      status: 200,
      response: z.object({ at: isoTime, counts: z.record(z.string(), z.number()), halts: z.array(z.unknown()), entries: z.array(planEntrySchema), total: z.number().int() }),
      handle: async ({ query }) => {
        const at = query.at ?? deps.clock.now();
        const plan = await needScheduler().plan(at);
        const { maxAttempts } = (await getFleetPolicy(deps.store)).retry;
        const selector = query.selector ? parseSelector(query.selector) : undefined;
        const byName = selector ? new Map((await deps.store.listInstances()).map((i) => [i.name, i])) : undefined;
        const chosen = selector ? plan.entries.filter((e) => matchesSelector(selector, byName!.get(e.instance)!)) : plan.entries;
        const counts: Record<string, number> = {};
        for (const e of chosen) counts[e.decision.kind] = (counts[e.decision.kind] ?? 0) + 1;
        return {
          at,
          counts,
          halts: plan.halts,
          total: chosen.length,
          entries: chosen.slice(0, query.limit).map((e) => present(e, at, maxAttempts)),
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/instances/{name}/why',
      role: 'viewer',
      operationId: 'why',
      summary: 'Where an instance stands with its target, in one sentence',
      tag: 'fleet',
      params: name,
      query: z.object({ at: atQuery }).strict(),
      status: 200,
      response: planEntrySchema,
      handle: async ({ params, query }) => {
        await mustGetInstance(deps.store, params.name);
        const at = query.at ?? deps.clock.now();
        const entry = (await needScheduler().plan(at)).entries.find((e) => e.instance === params.name);
        if (!entry) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${params.name}"`);
        return present(entry, at, (await getFleetPolicy(deps.store)).retry.maxAttempts);
      },
    }),
    route({
      method: 'get',
      path: '/api/holds',
      role: 'viewer',
      operationId: 'listHolds',
      summary: 'Holds in force',
      tag: 'fleet',
      status: 200,
      response: listOf(holdViewSchema),
      handle: async () => ({ items: await activeHolds(deps.store, deps.clock.now()), next: null }),
    }),
    route({
      method: 'put',
      path: '/api/instances/{name}/hold',
      role: 'deployer',
      operationId: 'hold',
      summary: 'Hold an instance: the scheduler leaves it alone',
      tag: 'fleet',
      params: name,
      body: holdSchema,
      status: 200,
      response: holdViewSchema,
      handle: async ({ params, body, who }) => holdInstance(deps, params.name, body, who),
    }),
    route({
      method: 'post',
      path: '/api/instances/{name}/unhold',
      role: 'deployer',
      operationId: 'unhold',
      summary: "Release an instance's hold",
      tag: 'fleet',
      params: name,
      body: unholdSchema,
      status: 200,
      response: holdViewSchema,
      handle: async ({ params, body, who }) => unholdInstance(deps, params.name, body, who),
    }),
  ];
}
