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
  // History is newest first; the deployment that brought what serves now is skipped: a config-only
  // deployment goes from a version to itself, and its rollback wants the config before it.
  const landed = (d: DeploymentRecord) => d.status === 'succeeded' || d.status === 'partial';
  const current = history.findIndex((d) => landed(d) && d.toVersion === instance.currentVersion);
  const last = history.slice(current + 1).find((d) => landed(d) && d.toVersion === plan.toVersion && d.configVersion !== undefined);
  return last?.configVersion === undefined ? undefined : { version: last.configVersion, digest: last.configDigest ?? '' };
}
