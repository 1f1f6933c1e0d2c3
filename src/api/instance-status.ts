import { CutoverError } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord, Store } from '../store/index.ts';
import type { Runtime, RuntimeInstance } from '../deploy/index.ts';

export interface InstanceStatus extends InstanceRecord {
  /** What the agent reports now; `null` when the agent cannot be reached. */
  runtime: RuntimeInstance | null;
  runtimeError?: string;
  lastDeployment: DeploymentRecord | null;
}

/** An instance as stored, with what the agent reports and its last deployment. */
export async function instanceStatus(deps: { store: Store; runtime: Runtime }, name: string): Promise<InstanceStatus> {
  const instance = await deps.store.getInstance(name);
  if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"; see \`cutover instance list\``);
  const [last] = await deps.store.listDeployments({ instance: name, limit: 1 });
  let runtime: RuntimeInstance | null = null;
  let runtimeError: string | undefined;
  try {
    runtime = (await deps.runtime.describe(name)) ?? null;
  } catch (error) {
    runtimeError = (error as Error).message;
  }
  return { ...instance, runtime, ...(runtimeError ? { runtimeError } : {}), lastDeployment: last ?? null };
}
