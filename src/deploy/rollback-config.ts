import type { DeploymentRecord, InstanceRecord } from '../store/index.ts';
import type { ConfigIdentity } from './deploy-config.ts';
import { warmSlotWith } from './plan-deployment.ts';
import type { DeploymentPlan } from './plan-deployment.ts';

/**
 * The app config a rollback restores (pure): a flip to the warm slot keeps the pair that slot runs;
 * a start of an earlier version takes the config the last deployment that landed on it recorded
 * (if that version is still kept, the old values come back). Undefined: the release's `env` only.
 */
export function rollbackConfig(instance: InstanceRecord, plan: DeploymentPlan, history: readonly DeploymentRecord[], now: number): ConfigIdentity | undefined {
  if (plan.strategy === 'flip-to-warm') {
    const warm = warmSlotWith(instance, now);
    return warm?.configVersion === undefined ? undefined : { version: warm.configVersion, digest: warm.configDigest };
  }
  const last = history.find((d) => (d.status === 'succeeded' || d.status === 'partial') && d.toVersion === plan.toVersion && d.configVersion !== undefined);
  return last?.configVersion === undefined ? undefined : { version: last.configVersion, digest: last.configDigest ?? '' };
}
