import { CutoverError } from '../shared/index.ts';
import type { AppConfigEntry, AppConfigLayer, AppConfigVersion } from '../store/index.ts';
import { applyChange } from './change-config.ts';
import type { ConfigChange } from './change-config.ts';
import { fingerprint, keyCheck, keyFor, open, seal } from './key-ring.ts';
import type { KeyRing } from './key-ring.ts';
import { valueProblem } from './key-rules.ts';
import { layerLabel } from './layers.ts';

/** The version before the first change: no entries, no key. */
export const EMPTY_VERSION: AppConfigVersion = { id: 0, createdAt: 0, actor: '', change: '', entries: [], activeKeyId: null, keyChecks: {} };

/** What the audit entry of a change says: key, layer, before → after; a secret only as its fingerprint. */
export interface ChangeRecord {
  key: string;
  layer: string;
  secret: boolean;
  before: string | null;
  after: string | null;
}

/** One entry as an audit entry or an API answer may show it: plain values, and a secret's fingerprint. */
export function shownValue(entry: AppConfigEntry | undefined): string | null {
  if (entry === undefined) return null;
  return entry.secret ? `secret ${entry.fingerprint}` : entry.value;
}

/**
 * The entry a `set` stores: a plain value checked (a URL with a password is refused), or a secret
 * sealed with the version's active key (the ring's only key when none is active yet).
 */
export function entryFor(
  current: AppConfigVersion,
  ring: KeyRing,
  set: { layer: AppConfigLayer; key: string; value: string; secret: boolean },
): { entry: AppConfigEntry; keyChecks: Record<string, string>; activeKeyId: string | null } {
  const problem = valueProblem(set.value, set.secret);
  if (problem !== undefined) throw new CutoverError('VALIDATION_FAILED', `the value of ${set.key} ${problem}`, { details: { key: set.key } });
  if (!set.secret) return { entry: { layer: set.layer, key: set.key, secret: false, value: set.value }, keyChecks: current.keyChecks, activeKeyId: current.activeKeyId };
  const keyId = sealingKeyId(current, ring);
  const key = keyFor(ring, keyId);
  const entry: AppConfigEntry = { layer: set.layer, key: set.key, secret: true, sealed: seal(keyId, key, set.value), fingerprint: fingerprint(key, set.value) };
  return { entry, keyChecks: { ...current.keyChecks, [keyId]: keyCheck(key) }, activeKeyId: keyId };
}

/** The key new secrets (and edge certificates' keys) are sealed with: the version's active key, else the ring's only key. */
export function sealingKeyId(current: AppConfigVersion, ring: KeyRing): string {
  return current.activeKeyId ?? onlyKeyId(ring);
}

function onlyKeyId(ring: KeyRing): string {
  const ids = [...ring.keys()];
  if (ids.length === 1) return ids[0]!;
  throw new CutoverError('SECRET_KEY_MISSING', ids.length === 0
    ? 'this server has no app-config key; it writes one at start in its key directory (see docs/app-config.md)'
    : `this server has several app-config keys (${ids.join(', ')}) and none is active yet; choose one with \`cutover secret rotate-key --to ID\``);
}

/** The next version after one change, and what its audit entry records; a refusal throws `VALIDATION_FAILED`. */
export function nextVersion(
  current: AppConfigVersion,
  change: ConfigChange,
  meta: { actor: string; at: number; keyChecks?: Record<string, string>; activeKeyId?: string | null },
): { version: AppConfigVersion; record: ChangeRecord } {
  const outcome = applyChange(current.entries, change);
  if ('refused' in outcome) throw new CutoverError('VALIDATION_FAILED', outcome.refused);
  const key = change.op === 'set' ? change.entry.key : change.key;
  const layer = layerLabel(change.op === 'set' ? change.entry.layer : change.layer);
  const secret = (outcome.after ?? outcome.before)?.secret ?? false;
  const version: AppConfigVersion = {
    id: current.id + 1,
    createdAt: meta.at,
    actor: meta.actor,
    change: `${change.op} ${key} at ${layer}`,
    entries: outcome.entries,
    activeKeyId: meta.activeKeyId === undefined ? current.activeKeyId : meta.activeKeyId,
    keyChecks: meta.keyChecks ?? current.keyChecks,
  };
  return { version, record: { key, layer, secret, before: shownValue(outcome.before), after: shownValue(outcome.after) } };
}

/**
 * Every secret of every version sealed again with `toKeyId` (values unchanged; fingerprints move to
 * the new key). Needs every key the versions use: a missing one is named and nothing changes.
 */
export function resealVersions(versions: readonly AppConfigVersion[], ring: KeyRing, toKeyId: string): AppConfigVersion[] {
  const key = keyFor(ring, toKeyId);
  const check = keyCheck(key);
  return versions.map((v) => ({
    ...v,
    activeKeyId: toKeyId,
    keyChecks: { [toKeyId]: check },
    entries: v.entries.map((e) => {
      if (!e.secret) return e;
      const value = open(ring, e.sealed);
      return { ...e, sealed: seal(toKeyId, key, value), fingerprint: fingerprint(key, value) };
    }),
  }));
}
