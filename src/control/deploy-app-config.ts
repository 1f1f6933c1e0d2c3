import { createHash } from 'node:crypto';
import { EMPTY_VERSION, layerLabel, missingRequired, missingRequiredMessage, resolveConfig, slotEnvOf } from '../appconfig/index.ts';
import type { KeyRing, ResolvedEntry } from '../appconfig/index.ts';
import { CutoverError, canonicalJson } from '../shared/index.ts';
import type { AppConfigVersion, InstanceRecord, Store } from '../store/index.ts';
import { currentAppConfig } from './app-config.ts';

/** A release spec as far as app config reads it. */
interface SpecEnv {
  env: Record<string, string>;
  requires?: string[];
}

const scopeOf = (i: Pick<InstanceRecord, 'name' | 'app' | 'environment'>) => ({ instance: i.name, app: i.app, environment: i.environment });

/**
 * The identity of what the app config gives an instance (the release's `env` left out: the
 * release is the other half of the pair): `''` when no layer applies, else a hash of each key's
 * layer and plain value or fingerprint. Two versions that resolve alike for the instance are the
 * same config for it, so a change to another instance's config never redeploys this one.
 */
export function configDigest(resolved: readonly ResolvedEntry[]): string {
  const own = resolved.filter((r) => r.layer.kind !== 'release').map((r) => [r.key, layerLabel(r.layer), r.secret ? `secret:${r.fingerprint}` : `plain:${r.value}`]);
  return own.length === 0 ? '' : createHash('sha256').update(canonicalJson(own)).digest('hex').slice(0, 32);
}

async function versionAt(store: Store, version: number): Promise<AppConfigVersion> {
  if (version === 0) return EMPTY_VERSION;
  const found = await store.getAppConfigVersion(version);
  if (found === undefined) throw new CutoverError('NOT_FOUND', `app-config version ${version} is no longer kept; deploy the current config instead`, { details: { configVersion: version } });
  return found;
}

/**
 * The deployer's `DeployConfig` port over the store and the key ring (wired by `main.ts`):
 * secrets are opened only in `slotEnv`, on the way into the slot spec sent to the agent.
 */
export function createDeployAppConfig(deps: { store: Store; keyRing(): KeyRing }) {
  const { store } = deps;
  return {
    async current(instance: InstanceRecord): Promise<{ version: number; digest: string }> {
      const version = await currentAppConfig(store);
      return { version: version.id, digest: configDigest(resolveConfig({}, version.entries, scopeOf(instance))) };
    },
    async requireKeys(instance: InstanceRecord, spec: SpecEnv, version: number): Promise<void> {
      if (!spec.requires?.length) return;
      const resolved = resolveConfig(spec.env, (await versionAt(store, version)).entries, scopeOf(instance));
      const missing = missingRequired(spec.requires, resolved, scopeOf(instance));
      if (missing.length > 0) {
        throw new CutoverError('APP_CONFIG_MISSING', missingRequiredMessage(instance.name, missing), { details: { instance: instance.name, missing } });
      }
    },
    async slotEnv(name: string, spec: SpecEnv, version: number): Promise<Record<string, string>> {
      const instance = await store.getInstance(name);
      if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"`);
      return slotEnvOf(resolveConfig(spec.env, (await versionAt(store, version)).entries, scopeOf(instance)), deps.keyRing());
    },
  };
}
