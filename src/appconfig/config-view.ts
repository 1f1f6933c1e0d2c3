import { open } from './key-ring.ts';
import type { KeyRing } from './key-ring.ts';
import { layerLabel } from './layers.ts';
import type { ResolvedEntry } from './resolve-config.ts';

/** One key as any API role may see it: a plain value, or a secret's fingerprint, never its value. */
export interface ShownEntry {
  key: string;
  layer: string;
  secret: boolean;
  /** The plain value; null for a secret. */
  value: string | null;
  /** A secret's fingerprint; null for a plain value. */
  fingerprint: string | null;
  /** Lower layers that also set the key, lowest first. */
  overrides: string[];
}

export function showConfig(resolved: readonly ResolvedEntry[]): ShownEntry[] {
  return resolved.map((r) => ({
    key: r.key,
    layer: layerLabel(r.layer),
    secret: r.secret,
    value: r.secret ? null : r.value,
    fingerprint: r.secret ? r.fingerprint : null,
    overrides: r.overrides.map(layerLabel),
  }));
}

/** One difference between two resolutions of an instance's config. */
export interface ConfigDifference {
  key: string;
  change: 'added' | 'removed' | 'changed';
  before: ShownEntry | null;
  after: ShownEntry | null;
}

/** What going from `from` to `to` changes, by key; a secret compares by fingerprint (same key ring). */
export function diffConfig(from: readonly ResolvedEntry[], to: readonly ResolvedEntry[]): ConfigDifference[] {
  const a = new Map(showConfig(from).map((e) => [e.key, e]));
  const b = new Map(showConfig(to).map((e) => [e.key, e]));
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: ConfigDifference[] = [];
  for (const key of keys) {
    const before = a.get(key) ?? null;
    const after = b.get(key) ?? null;
    if (before === null) out.push({ key, change: 'added', before, after });
    else if (after === null) out.push({ key, change: 'removed', before, after });
    else if (before.secret !== after.secret || before.value !== after.value || before.fingerprint !== after.fingerprint || before.layer !== after.layer) {
      out.push({ key, change: 'changed', before, after });
    }
  }
  return out;
}

/**
 * The environment a slot is started with: secrets decrypted here, on the way into the slot spec
 * sent to the agent, and nowhere else. Throws `SECRET_KEY_MISSING` naming a key id this server lacks.
 */
export function slotEnvOf(resolved: readonly ResolvedEntry[], ring: KeyRing): Record<string, string> {
  const env: Record<string, string> = {};
  for (const r of resolved) env[r.key] = r.secret ? open(ring, r.sealed) : r.value;
  return env;
}
