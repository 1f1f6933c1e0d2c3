import type { DeploymentRecord, Store } from '../store/index.ts';
import { machinesOf } from '../control/index.ts';
import { pointerIndex } from '../fleet/index.ts';
import type { Attempt, FleetPolicy, PlanInput } from '../fleet/index.ts';

/** A deployment as the planner sees it. Rollbacks are not attempts to reach a target. */
export function toAttempt(d: DeploymentRecord, appOf: (instance: string) => string | undefined): Attempt | undefined {
  if (d.kind !== 'deploy') return undefined;
  const app = d.app ?? appOf(d.instance);
  if (!app) return undefined;
  return {
    instance: d.instance,
    app,
    version: d.toVersion,
    startedAt: d.createdAt,
    finishedAt: d.finishedAt ?? null,
    // An abort stops the attempt like a failure does; a partial one flipped (its machines left behind converge).
    outcome: d.status === 'aborted' ? 'failed' : d.status === 'partial' ? 'succeeded' : d.status,
    error: d.error?.message ?? null,
    scheduled: d.actor === SCHEDULER_ACTOR,
  };
}

export const SCHEDULER_ACTOR = 'scheduler';

/** Reads everything the planner decides from, as of `now`. */
export async function loadPlanInput(store: Store, policy: FleetPolicy, now: number): Promise<PlanInput> {
  const [instances, machines, pointers, holds, halts, deployments] = await Promise.all([
    store.listInstances(),
    store.listMachines(),
    store.listChannelPointers(),
    store.listHolds(),
    store.listHalts(),
    store.listDeployments({ since: now - policy.lookbackMs }),
  ]);
  const appByInstance = new Map(instances.map((i) => [i.name, i.app]));
  const attempts: Attempt[] = [];
  for (const d of deployments) {
    const a = toAttempt(d, (name) => appByInstance.get(name));
    if (a) attempts.push(a);
  }
  return {
    now,
    policy,
    instances,
    pointers: pointerIndex(pointers),
    holds: new Map(holds.map((h) => [h.instance, h])),
    halts,
    attempts,
    // Resolved now, as the deployer's fan-out would: an upgrade started this tick runs on these.
    machines: new Map(instances.map((i) => [i.name, machinesOf(i.placement, machines)])),
  };
}
