import type { DeploymentRecord, Store } from '../store/index.ts';
import type { Runtime, RuntimeInstance } from '../deploy/index.ts';
import { mustGetInstance, viewOf } from '../control/index.ts';
import type { InstanceView, loadPointerIndex } from '../control/index.ts';

export interface InstanceStatus extends InstanceView {
  /** What the agent reports now; `null` when the agent cannot be reached. */
  runtime: RuntimeInstance | null;
  runtimeError?: string;
  lastDeployment: DeploymentRecord | null;
}

/** An instance as stored, with its resolved target, what the agent reports and its last deployment. */
export async function instanceStatus(
  deps: { store: Store; runtime: Runtime },
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
  return { ...viewOf(instance, index), runtime, ...(runtimeError ? { runtimeError } : {}), lastDeployment: last ?? null };
}
