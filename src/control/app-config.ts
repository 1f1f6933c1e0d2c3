import { z } from 'zod';
import {
  EMPTY_VERSION,
  RETENTION_MS,
  checkRing,
  diffConfig,
  entryFor,
  keyCheck,
  keyFor,
  layerFromFlags,
  layerLabel,
  nextVersion,
  resealVersions,
  resolveConfig,
  showConfig,
  versionsToPrune,
} from '../appconfig/index.ts';
import type { ChangeRecord, ConfigDifference, KeyRing, ResolvedEntry, ShownEntry } from '../appconfig/index.ts';
import { CutoverError } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import { auditEntry, mustGetInstance } from '../store/index.ts';
import { resealEdgeCertificates } from './edge-certs.ts';
import type { AppConfigLayer, AppConfigVersion, InstanceRecord, Store } from '../store/index.ts';

/** What the app-config use cases need: the store, a clock, and this replica's key ring, read at each use. */
export interface AppConfigDeps {
  store: Store;
  clock: Clock;
  /** The key files as they are now: a key added on this replica is used without a restart. */
  keyRing(): KeyRing;
}

const name = z.string().trim().min(1).max(200);
const where = { app: name.optional(), environment: name.optional(), instance: name.optional() };

export const setAppConfigSchema = z
  .object({ ...where, key: z.string().max(300).describe('The variable name.'), value: z.string().max(64 * 1024) })
  .strict();
export type SetAppConfigInput = z.output<typeof setAppConfigSchema>;
export const unsetAppConfigSchema = z.object({ ...where, key: z.string().max(300) }).strict();
export type UnsetAppConfigInput = z.output<typeof unsetAppConfigSchema>;
export const rotateKeySchema = z.object({ to: z.string().min(1).max(64).describe('The key id to seal every secret with.') }).strict();

/** The answer to a change: the new version and what changed (a secret only by fingerprint). */
export interface AppConfigChangeView extends ChangeRecord {
  version: number;
}

function layerOf(input: { app?: string; environment?: string; instance?: string }): AppConfigLayer {
  const layer = layerFromFlags(input);
  if (typeof layer === 'string') throw new CutoverError('VALIDATION_FAILED', layer);
  return layer;
}

/** A wrong key file (its check value differs from the stored one) is refused before it seals or opens anything. */
function checkedRing(deps: AppConfigDeps, version: AppConfigVersion): KeyRing {
  const ring = deps.keyRing();
  const { wrong } = checkRing(ring, version.keyChecks);
  if (wrong.length > 0) {
    throw new CutoverError('SECRET_KEY_INVALID', `the key file for app-config key ${wrong.join(', ')} on this server is not the one the secrets were sealed with; restore the right file`, {
      details: { keyIds: wrong },
    });
  }
  return ring;
}

/** Latest version, or the empty one before any change. */
export async function currentAppConfig(store: Store): Promise<AppConfigVersion> {
  return (await store.getAppConfigVersion()) ?? EMPTY_VERSION;
}

/**
 * Sets one key at one layer, plain or secret, as a new version with its audit entry. Two replicas
 * changing at once: the one whose version landed second reads the new one and applies its change
 * again (a refusal then is a real conflict, reported).
 */
export async function setAppConfig(deps: AppConfigDeps, input: SetAppConfigInput, secret: boolean, who: Actor): Promise<AppConfigChangeView> {
  const layer = layerOf(input);
  if (layer.kind === 'instance') await mustGetInstance(deps.store, layer.instance);
  return commit(deps, who, scopeOf(layer), secret ? 'secret.set' : 'app-config.set', (current) => {
    const made = entryFor(current, secret ? checkedRing(deps, current) : new Map(), { layer, key: input.key, value: input.value, secret });
    return nextVersion(current, { op: 'set', entry: made.entry }, { actor: who.actor, at: deps.clock.now(), keyChecks: made.keyChecks, activeKeyId: made.activeKeyId });
  });
}

export async function unsetAppConfig(deps: AppConfigDeps, input: UnsetAppConfigInput, secret: boolean, who: Actor): Promise<AppConfigChangeView> {
  const layer = layerOf(input);
  return commit(deps, who, scopeOf(layer), secret ? 'secret.unset' : 'app-config.unset', (current) => {
    const held = current.entries.find((e) => e.key === input.key && layerLabel(e.layer) === layerLabel(layer));
    if (held !== undefined && held.secret !== secret) {
      throw new CutoverError('VALIDATION_FAILED', `${input.key} is ${held.secret ? 'a secret: use `cutover secret unset`' : 'plain: use `cutover app-config unset`'}`);
    }
    return nextVersion(current, { op: 'unset', layer, key: input.key }, { actor: who.actor, at: deps.clock.now() });
  });
}

/** Which instance and app an audit entry concerns, from the layer (for `audit --instance`/`--release`). */
function scopeOf(layer: AppConfigLayer): { instance?: string; app?: string } {
  if (layer.kind === 'instance') return { instance: layer.instance };
  if (layer.kind === 'app' || layer.kind === 'app-environment') return { app: layer.app };
  return {};
}

async function commit(
  deps: AppConfigDeps,
  who: Actor,
  scope: { instance?: string; app?: string },
  action: string,
  change: (current: AppConfigVersion) => { version: AppConfigVersion; record: ChangeRecord },
): Promise<AppConfigChangeView> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const { version, record } = change(await currentAppConfig(deps.store));
    const entry = auditEntry(who, action, record.key, {
      at: version.createdAt,
      instance: scope.instance ?? null,
      app: scope.app ?? null,
      before: record.before,
      after: record.after,
      details: { key: record.key, layer: record.layer, secret: record.secret, configVersion: version.id },
    });
    if (await deps.store.insertAppConfigVersion(version, entry)) return { ...record, version: version.id };
  }
  throw new CutoverError('APP_CONFIG_CHANGED', 'the app config kept changing while this change was applied; try again');
}

/**
 * Re-seals every secret of every kept version with key `to`, in one transaction (admin), and the
 * edge certificates' keys before it (ADR 0029): those are sealed with the same ring, and a key
 * retired after a rotation must open none of them.
 */
export async function rotateSecretKey(deps: AppConfigDeps, to: string, who: Actor): Promise<{ keyId: string; versions: number; secrets: number; certificates: number }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const versions = await deps.store.listAppConfigVersions();
    const latest = versions.at(-1);
    if (latest === undefined) return rotateCertificatesOnly(deps, to, who);
    const ring = checkedRing(deps, latest);
    const resealed = resealVersions(versions, ring, to);
    const certificates = await resealEdgeCertificates(deps.store, ring, to);
    const secrets = resealed.reduce((n, v) => n + v.entries.filter((e) => e.secret).length, 0);
    const from = [...new Set(versions.flatMap((v) => Object.keys(v.keyChecks)))].sort();
    const entry = auditEntry(who, 'secret.rotate-key', `key:${to}`, { at: deps.clock.now(), details: { from, to, versions: versions.length, secrets, certificates } });
    if (await deps.store.rewriteAppConfigVersions(resealed, latest.id, entry)) return { keyId: to, versions: versions.length, secrets, certificates };
  }
  throw new CutoverError('APP_CONFIG_CHANGED', 'the app config kept changing during the rotation; try again');
}

/**
 * A rotation before any app config exists: only edge certificates to re-seal. The key is recorded
 * as the active one in a first, empty app-config version (where the active key id and the check
 * values live), so later secrets and certificates are sealed with it too; nothing at all to
 * re-encrypt is refused.
 */
async function rotateCertificatesOnly(deps: AppConfigDeps, to: string, who: Actor): Promise<{ keyId: string; versions: number; secrets: number; certificates: number }> {
  if ((await deps.store.listEdgeCertificates()).length === 0) throw new CutoverError('VALIDATION_FAILED', 'there is no app config and no TLS certificate yet: nothing to re-encrypt');
  const ring = deps.keyRing();
  const version: AppConfigVersion = { ...EMPTY_VERSION, id: 1, createdAt: deps.clock.now(), actor: who.actor, change: `rotate-key to ${to}`, activeKeyId: to, keyChecks: { [to]: keyCheck(keyFor(ring, to)) } };
  const certificates = await resealEdgeCertificates(deps.store, ring, to);
  const entry = auditEntry(who, 'secret.rotate-key', `key:${to}`, { at: deps.clock.now(), details: { from: [], to, versions: 0, secrets: 0, certificates } });
  if (!(await deps.store.insertAppConfigVersion(version, entry))) throw new CutoverError('APP_CONFIG_CHANGED', 'the app config changed during the rotation; try again');
  return { keyId: to, versions: 0, secrets: 0, certificates };
}

/** An instance's resolved config at a version (the latest by default), with the release `env` of `version`. */
export async function resolvedConfigOf(store: Store, instance: InstanceRecord, releaseVersion: string | null, config?: AppConfigVersion): Promise<ResolvedEntry[]> {
  const version = config ?? (await currentAppConfig(store));
  const release = releaseVersion === null ? undefined : await store.getRelease(instance.app, releaseVersion);
  const env = ((release?.spec as { env?: Record<string, string> } | undefined)?.env) ?? {};
  return resolveConfig(env, version.entries, { instance: instance.name, app: instance.app, environment: instance.environment });
}

/** `app-config show`: every key, its plain value or a secret's fingerprint, and its layer. */
export async function showAppConfig(deps: Pick<AppConfigDeps, 'store'>, name: string): Promise<{ instance: string; version: number; release: string | null; entries: ShownEntry[] }> {
  const instance = await mustGetInstance(deps.store, name);
  const current = await currentAppConfig(deps.store);
  const entries = showConfig(await resolvedConfigOf(deps.store, instance, instance.currentVersion, current));
  return { instance: name, version: current.id, release: instance.currentVersion, entries };
}

/**
 * `app-config diff`: what the next deployment would change: the current config against `from` (a
 * version id; default the version the live slot runs, 0 when it runs none).
 */
export async function diffAppConfig(
  deps: Pick<AppConfigDeps, 'store'>,
  name: string,
  from: number | null,
): Promise<{ instance: string; from: number; to: number; changes: ConfigDifference[] }> {
  const instance = await mustGetInstance(deps.store, name);
  const current = await currentAppConfig(deps.store);
  const live = instance.activeColor ? instance.slots[instance.activeColor] : null;
  const deployedVersion = from ?? live?.configVersion ?? 0;
  const deployed = deployedVersion === 0 ? EMPTY_VERSION : await deps.store.getAppConfigVersion(deployedVersion);
  if (deployed === undefined) throw new CutoverError('NOT_FOUND', `app-config version ${deployedVersion} is no longer kept`);
  const before = await resolvedConfigOf(deps.store, instance, instance.currentVersion, deployed);
  const after = await resolvedConfigOf(deps.store, instance, instance.currentVersion, current);
  return { instance: name, from: deployedVersion, to: current.id, changes: diffConfig(before, after) };
}

/**
 * Deletes the app-config versions nothing needs: kept are the latest, those a deployment of the
 * last 90 days recorded, and those a slot still runs (live or warm). Returns the ids deleted.
 */
export async function pruneAppConfigVersions(deps: { store: Store; clock: Clock }): Promise<number[]> {
  const kept = (await deps.store.listAppConfigVersions()).map((v) => v.id);
  if (kept.length <= 1) return [];
  const referenced = new Set<number>();
  for (const d of await deps.store.listDeployments({ since: deps.clock.now() - RETENTION_MS })) if (d.configVersion !== undefined) referenced.add(d.configVersion);
  for (const i of await deps.store.listInstances()) {
    for (const slot of [i.slots.blue, i.slots.green]) if (slot?.configVersion !== undefined) referenced.add(slot.configVersion);
  }
  const doomed = versionsToPrune(kept, referenced);
  if (doomed.length > 0) await deps.store.deleteAppConfigVersions(doomed);
  return doomed;
}
