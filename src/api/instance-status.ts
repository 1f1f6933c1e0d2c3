import type { Clock } from '../shared/index.ts';
import type { DeploymentRecord, Store } from '../store/index.ts';
import type { AgentCheck, Runtime, RuntimeInstance } from '../deploy/index.ts';
import { compareWithAgent } from '../deploy/index.ts';
import { mustGetInstance, viewOf } from '../control/index.ts';
import type { InstanceView, loadPointerIndex } from '../control/index.ts';

export interface InstanceStatus extends InstanceView {
  /** What the agent reports now; `null` when the agent cannot be reached or does not know the instance. */
  runtime: RuntimeInstance | null;
  runtimeError?: string;
  /** The record compared with the agent's answer: whether it is routed as recorded, and each difference. */
  agent: AgentCheck;
  lastDeployment: DeploymentRecord | null;
}

/** An instance as stored, with its resolved target, what the agent reports and its last deployment. */
export async function instanceStatus(
  deps: { store: Store; runtime: Runtime; clock?: Clock },
  name: string,
  index: Awaited<ReturnType<typeof loadPointerIndex>>,
): Promise<InstanceStatus> {
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
    locked: lock !== undefined && lock.expiresAt > (deps.clock?.now() ?? Date.now()),
  });
  return { ...viewOf(instance, index), runtime, ...(runtimeError ? { runtimeError } : {}), agent, lastDeployment: last ?? null };
}
