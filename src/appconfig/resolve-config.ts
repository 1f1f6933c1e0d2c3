import type { AppConfigEntry, SealedValue } from '../store/index.ts';
import { layerApplies, layerLabel, layerRank, layersOf } from './layers.ts';
import type { InstanceScope, SourceLayer } from './layers.ts';

/** One key of an instance's resolved config, with the layer that won and the layers it overrode. */
export type ResolvedEntry =
  | { key: string; layer: SourceLayer; secret: false; value: string; overrides: SourceLayer[] }
  | { key: string; layer: SourceLayer; secret: true; sealed: SealedValue; fingerprint: string; overrides: SourceLayer[] };

/**
 * An instance's config: the release's `env`, then each stored layer that applies, lowest first
 * (app < environment < app+environment < instance); the highest layer holding a key wins. Keys
 * sorted by code point, so two resolutions of the same input compare equal.
 */
export function resolveConfig(releaseEnv: Readonly<Record<string, string>>, entries: readonly AppConfigEntry[], scope: InstanceScope): ResolvedEntry[] {
  const winners = new Map<string, ResolvedEntry>();
  const put = (next: ResolvedEntry) => {
    const before = winners.get(next.key);
    if (before === undefined) return winners.set(next.key, next);
    if (layerRank(next.layer) < layerRank(before.layer)) return before.overrides.push(next.layer);
    winners.set(next.key, { ...next, overrides: [...before.overrides, before.layer] });
  };
  for (const [key, value] of Object.entries(releaseEnv)) put({ key, layer: { kind: 'release' }, secret: false, value, overrides: [] });
  for (const e of entries) {
    if (!layerApplies(e.layer, scope)) continue;
    if (e.secret) put({ key: e.key, layer: e.layer, secret: true, sealed: e.sealed, fingerprint: e.fingerprint, overrides: [] });
    else put({ key: e.key, layer: e.layer, secret: false, value: e.value, overrides: [] });
  }
  return [...winners.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A required key the resolved config lacks, with every layer it was looked for in. */
export interface MissingKey {
  key: string;
  layersChecked: string[];
}

/** The release's `requires:` keys that no layer provides: a deployment is refused before it starts. */
export function missingRequired(requires: readonly string[], resolved: readonly ResolvedEntry[], scope: InstanceScope): MissingKey[] {
  const have = new Set(resolved.map((r) => r.key));
  const layersChecked = layersOf(scope).map(layerLabel);
  return requires.filter((k) => !have.has(k)).map((key) => ({ key, layersChecked }));
}

/** The message for missing required keys: each key and the layers checked, and how to fix it. */
export function missingRequiredMessage(instance: string, missing: readonly MissingKey[]): string {
  const lines = missing.map((m) => `  - ${m.key}: not set in ${m.layersChecked.join(', ')}`);
  return `the release requires app config that instance ${instance} does not have:\n${lines.join('\n')}\nset it with \`cutover app-config set\` or \`cutover secret set\`, then deploy again`;
}
