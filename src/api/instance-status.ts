import type { Clock } from '../shared/index.ts';
import type { DeploymentRecord, Role, Store } from '../store/index.ts';
import type { AgentCheck, Runtime, RuntimeInstance } from '../deploy/index.ts';
import { compareWithAgent } from '../deploy/index.ts';
import { roleAllows, viewOf } from '../control/index.ts';
import type { InstanceView, loadPointerIndex } from '../control/index.ts';
import { mustGetInstance } from '../store/index.ts';

export interface InstanceStatusData extends InstanceView {
  /** What the agent reports now; `null` when the agent cannot be reached or does not know the instance. */
  runtime: RuntimeInstance | null;
  runtimeError?: string;
  /** The record compared with the agent's answer: whether it is routed as recorded, and each difference. */
  agent: AgentCheck;
  lastDeployment: DeploymentRecord | null;
}

/** An instance as stored, with its resolved target, what the agent reports and its last deployment. */
export async function instanceStatus(
  deps: { store: Store; runtime: Runtime; clock: Clock },
  name: string,
  index: Awaited<ReturnType<typeof loadPointerIndex>>,
): Promise<InstanceStatusData> {
  const instance = await mustGetInstance(deps.store, name);
  const [last] = await deps.store.listDeployments({ instance: name, limit: 1 });
  let runtime: RuntimeInstance | null = null;
  let runtimeError: string | undefined;
  try {
    runtime = (await deps.runtime.describe(name)) ?? null;
  } catch (error) {
    runtimeError = (error as Error).message;
  }
  const lock = await deps.store.getLock(name);
  const agent = compareWithAgent(instance, runtime ?? undefined, {
    ...(runtimeError === undefined ? {} : { error: runtimeError }),
    locked: lock !== undefined && lock.expiresAt > deps.clock.now(),
  });
  return { ...viewOf(instance, index), runtime, ...(runtimeError ? { runtimeError } : {}), agent, lastDeployment: last ?? null };
}

/**
 * Slot ports answer on 127.0.0.1 without the router's checks (no preview token, no maintenance
 * page), so any local user who knows one reaches an idle or preview slot directly (review L7).
 * They are shown to deployers and admins, who run code on the agent's machine anyway, and left
 * out for viewers: in the runtime view and in the `start` step's detail.
 */
function seesSlotPorts(role: Role): boolean {
  return roleAllows(role, 'deployer');
}

function withoutPort<T extends object>(value: T): T {
  if (!('port' in value)) return value;
  const { port: _port, ...rest } = value as T & { port: unknown };
  return rest as T;
}

/** A deployment as a viewer sees it: no slot port in its steps' details. */
function deploymentForViewer(d: DeploymentRecord): DeploymentRecord {
  if (!d.steps.some((s) => s.detail && 'port' in s.detail)) return d;
  return { ...d, steps: d.steps.map((s) => (s.detail ? { ...s, detail: withoutPort(s.detail) } : s)) };
}

/** An instance status as `role` may see it. */
export function statusForRole(status: InstanceStatusData, role: Role): InstanceStatusData {
  if (seesSlotPorts(role)) return status;
  return {
    ...status,
    runtime: status.runtime ? { ...status.runtime, slots: status.runtime.slots.map(withoutPort) } : null,
    lastDeployment: status.lastDeployment ? deploymentForViewer(status.lastDeployment) : null,
  };
}

/** A deployment as `role` may see it. */
export function deploymentForRole(d: DeploymentRecord, role: Role): DeploymentRecord {
  return seesSlotPorts(role) ? d : deploymentForViewer(d);
}
