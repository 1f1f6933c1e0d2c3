// The deployer's view of app config (issue 20): a deployment is the pair (release, config
// version). The composition root implements this port over the store and the key ring
// (`control/deploy-app-config.ts`); the deployer only records versions and digests and asks for a
// slot's environment on the way into its spec, so secrets are opened nowhere else.
import type { ReleaseSpec } from '../releases/index.ts';
import type { DeploymentRecord, InstanceRecord, SlotRecord } from '../store/index.ts';

/** The app config a deployment starts with: a version and the identity of what it resolves to for the instance. */
export interface ConfigIdentity {
  version: number;
  /** `''` when no app-config layer applies to the instance (as for slots started before app config existed). */
  digest: string;
}

export interface DeployConfig {
  /** The instance's app config now: the version a deployment records, and its identity for the planner. */
  current(instance: InstanceRecord): Promise<ConfigIdentity>;
  /** Refuses (`APP_CONFIG_MISSING`) a release whose `requires:` keys the config at `version` lacks, before anything starts. */
  requireKeys(instance: InstanceRecord, spec: ReleaseSpec, version: number): Promise<void>;
  /** The slot's environment: the release `env` under the resolved app config at `version`, secrets opened. */
  slotEnv(instance: string, spec: ReleaseSpec, version: number): Promise<Record<string, string>>;
}

/** A slot's config identity; a slot started before app config existed ran none. */
export const digestOf = (slot: Pick<SlotRecord, 'configDigest'> | null | undefined): string => slot?.configDigest ?? '';

/** The config fields a slot record keeps from the deployment that started it. */
export function slotConfigOf(d: Pick<DeploymentRecord, 'configVersion' | 'configDigest'>): Pick<SlotRecord, 'configVersion' | 'configDigest'> {
  return d.configVersion === undefined ? {} : { configVersion: d.configVersion, configDigest: d.configDigest ?? '' };
}

/**
 * The instances whose app config now differs from what their live slot started with (its config
 * identity): a deployment of the same release would start a new pair. Instances serving nothing
 * are left out (their next deployment takes the config anyway).
 */
export async function pendingConfigOf(config: DeployConfig, instances: readonly InstanceRecord[]): Promise<Set<string>> {
  const pending = new Set<string>();
  for (const instance of instances) {
    const live = instance.activeColor ? instance.slots[instance.activeColor] : null;
    if (!live) continue;
    // One that cannot be resolved now (a key missing on this replica) is asked again next time.
    const now = await config.current(instance).catch(() => undefined);
    if (now && now.digest !== digestOf(live)) pending.add(instance.name);
  }
  return pending;
}

/** `spec` with the slot's environment at the deployment's config version (unchanged without app config). */
export async function withSlotEnv(config: DeployConfig | undefined, instance: string, spec: ReleaseSpec, version: number | undefined): Promise<ReleaseSpec> {
  if (config === undefined || version === undefined) return spec;
  return { ...spec, env: await config.slotEnv(instance, spec, version) };
}

