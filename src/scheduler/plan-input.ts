import type { DeploymentRecord, InstanceRecord, MachineRecord, Store } from '../store/index.ts';
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

/** Which instances have app config pending (issue 20): asked only when the policy applies it. */
export type PendingConfig = (instances: readonly InstanceRecord[]) => Promise<ReadonlySet<string>>;

/** Reads everything the planner decides from, as of `now`. */
export async function loadPlanInput(store: Store, policy: FleetPolicy, now: number, pendingConfig?: PendingConfig): Promise<PlanInput> {
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
    machines: machinesByInstance(instances, machines),
    ...(policy.applyAppConfig && pendingConfig ? { pendingConfig: await pendingConfig(instances) } : {}),
  };
}

/**
 * Each instance's machines, resolved now as the deployer's fan-out would: an upgrade started this
 * tick runs on these. Resolved once per distinct placement (most instances of a fleet share a
 * few selectors or machine lists), so a tick over many instances does not redo the same work.
 */
export function machinesByInstance(instances: readonly InstanceRecord[], machines: readonly MachineRecord[]): Map<string, readonly string[]> {
  const byPlacement = new Map<string, readonly string[]>();
  const result = new Map<string, readonly string[]>();
  for (const i of instances) {
    const key = JSON.stringify(i.placement);
    let names = byPlacement.get(key);
    if (!names) byPlacement.set(key, (names = machinesOf(i.placement, machines)));
    result.set(i.name, names);
  }
  return result;
}
