import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Color, HealthSpec } from '../shared/index.ts';
import { CutoverError, isColor } from '../shared/index.ts';
import { machineEnvKey, openEnv, sealEnv } from './sealed-env.ts';
import type { SealedEnv } from './sealed-env.ts';

/**
 * The version of the state file's format. A file written by a newer agent (a higher version) is
 * not read: its entries may mean something this agent does not know. Files without a version,
 * or with 1, are the format below.
 */
export const STATE_VERSION = 1;

/**
 * What the agent must remember to serve a slot again after a restart: the agent's own on-disk
 * format, kept apart from the protocol's `slot.start` request so a change of the wire does not
 * change the file. `runAs` is the uid/gid the slot was started as, from `releases/<instance>/…`;
 * a slot without it was started by an agent before per-instance users (as the agent's uid, from
 * the shared `releases/sha256-…`), and is adopted so.
 */
export interface PersistedSlot {
  version: string;
  digest: string;
  /** The start command, run by `/bin/sh -c` in the release copy. */
  start: string;
  env: Record<string, string>;
  health: HealthSpec;
  stopTimeoutMs: number;
  deploymentId: string;
  drain?: { path: string; intervalMs?: number };
  runAs?: { uid: number; gid: number };
}

/** The maintenance page while maintenance is on. */
export interface PersistedMaintenance {
  html?: string;
  retryAfterSeconds?: number;
}

export interface PersistedInstance {
  hosts: string[];
  active: Color | null;
  slots: Partial<Record<Color, PersistedSlot>>;
  /** The preview token (a secret: kept only here, in a 0600 file, never reported). */
  preview?: string;
  /** The maintenance page while maintenance is on. */
  maintenance?: PersistedMaintenance;
  /** The uid (and gid) allocated to the instance's slots when the agent runs as root; kept for its life. */
  uid?: number;
  gid?: number;
  /**
   * The slot the last flip moved traffic away from, as it was then: the only slot a local rollback
   * may flip to. A slot started since in that colour has another deployment id, and is refused:
   * it never served, so flipping to it would go forward. Absent until the first flip that leaves a slot.
   */
  left?: PersistedPosition & { deploymentId: string };
  /**
   * The number of the desired-state document the agent held when it last flipped the instance
   * (absent: it held none). Equal to the number held now: the flip is newer than the document, and
   * the ready endpoint trusts what it serves (see `agent-readiness.ts`).
   */
  flippedUnder?: number;
}

/** Where an instance stood: the colour serving and the version its slot ran. */
export interface PersistedPosition {
  color: Color;
  version: string;
}

/**
 * A rollback made on the machine while the server was away (`cutover local rollback`), kept until
 * the server acknowledges it (the protocol's `LocalRollback`; its own type here, like the slots).
 */
export interface PersistedLocalRollback {
  id: string;
  instance: string;
  from: PersistedPosition;
  to: PersistedPosition;
  /** When the agent flipped (ms since the epoch). */
  at: number;
}

/**
 * The last desired-state document the agent accepted (issue 17), kept as the JSON it came as.
 * Optional, so the format version stays 1: an agent of the previous version loads the file and
 * ignores it (and the server sends the document again).
 */
export interface PersistedDesired {
  number: number;
  document: Record<string, unknown>;
}

/**
 * Format 1 throughout: `left` and `localRollbacks` are optional fields an older agent ignores
 * (it reads files of its own version), so they need no new version.
 */
export interface AgentState {
  version: typeof STATE_VERSION;
  instances: Record<string, PersistedInstance>;
  /** Local rollbacks the server has not acknowledged yet, oldest first. */
  localRollbacks?: PersistedLocalRollback[];
  desired?: PersistedDesired;
}

/**
 * Persists the agent state durably in ONE write per save, because a flip waits for it: two files
 * (`<base>.a`, `<base>.b`) opened once with O_DSYNC, written alternately at offset 0 with a header
 * `{"seq","len","sum"}` line and the JSON body. A crash mid-write tears at most the file being
 * written, whose checksum then fails; the other file holds the previous state. Loading takes the
 * valid file with the highest sequence number. (A temp-file + fsync + rename + directory fsync
 * costs eight event-loop round trips, measured at 4–6 ms p50 under router load; this is one.)
 */
export function createStateFile(base: string) {
  const files = [`${base}.a`, `${base}.b`] as const;
  // Slot environments are sealed with the machine's key (`slot-env.key`, beside the files, never in them).
  let envKey: Buffer | undefined;
  const key = (): Buffer => (envKey ??= machineEnvKey(base));
  const handles: (FileHandle | undefined)[] = [undefined, undefined];
  let seq = 0;
  let chain: Promise<void> = Promise.resolve();

  async function handle(i: 0 | 1): Promise<FileHandle> {
    handles[i] ??= await open(files[i], constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o600);
    return handles[i];
  }

  async function write(state: AgentState): Promise<void> {
    // The sequence number advances only once a write has landed: a failed write (a full disk)
    // may have torn its file, so the retry goes to the same file and never to the other one,
    // which holds the last good state.
    const next = seq + 1;
    const body = Buffer.from(JSON.stringify(state));
    const header = Buffer.from(`${JSON.stringify({ seq: next, len: body.length, sum: checksum(body) })}\n`);
    const buffer = Buffer.concat([header, body]);
    const h = await handle((next % 2) as 0 | 1);
    const { bytesWritten } = await h.write(buffer, 0, buffer.length, 0);
    if (bytesWritten !== buffer.length) {
      throw Object.assign(new Error(`short write to ${files[next % 2]}: ${bytesWritten} of ${buffer.length} bytes`), { code: 'ENOSPC' });
    }
    seq = next;
  }

  /** One state file as found: missing (or empty: created, never written), valid, or why it is not. */
  type Found = { kind: 'missing' } | { kind: 'valid'; seq: number; body: string } | { kind: 'invalid'; reason: string };

  async function readOne(file: string): Promise<Found> {
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      throw error;
    }
    // A file is opened (created) at its first save, so a crash between the open and the write
    // leaves it empty: that is "never written", not corrupt.
    if (raw.length === 0) return { kind: 'missing' };
    const newline = raw.indexOf(10);
    if (newline < 0) return { kind: 'invalid', reason: 'no header line' };
    try {
      const header = JSON.parse(raw.subarray(0, newline).toString()) as { seq: number; len: number; sum: string };
      const body = raw.subarray(newline + 1, newline + 1 + header.len);
      if (body.length !== header.len) return { kind: 'invalid', reason: `truncated (${body.length} of ${header.len} bytes)` };
      if (checksum(body) !== header.sum) return { kind: 'invalid', reason: 'checksum mismatch' };
      const parsed = JSON.parse(body.toString()) as unknown;
      if (!isObject(parsed)) return { kind: 'invalid', reason: 'the body is not a JSON object' };
      if (typeof parsed.version === 'number' && parsed.version > STATE_VERSION) {
        return { kind: 'invalid', reason: `written by a newer agent (state version ${parsed.version}; this agent reads ${STATE_VERSION})` };
      }
      return { kind: 'valid', seq: Number(header.seq), body: body.toString() };
    } catch (error) {
      return { kind: 'invalid', reason: `not JSON (${(error as Error).message})` };
    }
  }

  return {
    /** Saves the latest state; resolves once it is on disk. Saves are serialised. */
    save(state: AgentState): Promise<void> {
      const snapshot = sealSlotEnvs(JSON.parse(JSON.stringify(state)) as AgentState, key());
      chain = chain.catch(() => undefined).then(() => write(snapshot));
      return chain;
    },
    /**
     * Loads the newest valid state; no state file at all is an empty state. Entries that do not
     * look like an instance are skipped and reported, so one corrupt entry does not stop the others.
     *
     * When state files exist and none validates, this throws `AGENT_STATE_INVALID` instead of
     * starting empty: an empty agent answers 404 for every host and leaves every slot process
     * unmanaged, which must be a decision, not an accident. With `resetState` it moves the bad
     * files aside (renamed `<file>.corrupt-<timestamp>`, never deleted) and starts empty;
     * `movedAside` names them. `resetState` with a valid file changes nothing.
     */
    async load(options: { resetState?: boolean } = {}): Promise<{ state: AgentState; skipped: string[]; movedAside: string[] }> {
      const found = await Promise.all(files.map(readOne));
      const valid = found.flatMap((f) => (f.kind === 'valid' ? [f] : []));
      const invalid = files.flatMap((file, i) => {
        const f = found[i]!;
        return f.kind === 'invalid' ? [{ file, reason: f.reason }] : [];
      });
      const movedAside: string[] = [];
      if (valid.length === 0 && invalid.length > 0) {
        if (!options.resetState) {
          const list = invalid.map((f) => `${f.file} (${f.reason})`).join(', ');
          throw new CutoverError(
            'AGENT_STATE_INVALID',
            `no agent state file is valid: ${list}. Nothing was started. Start the agent with --reset-state to move them aside and start empty (the server then pushes its instances again), or restore them from a backup`,
            { details: { files: invalid } },
          );
        }
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        for (const { file } of invalid) {
          const aside = `${file}.corrupt-${stamp}`;
          await rename(file, aside);
          movedAside.push(aside);
        }
      }
      const newest = valid.sort((a, b) => b.seq - a.seq)[0];
      seq = newest?.seq ?? 0;
      const parsed = newest ? (JSON.parse(newest.body) as { instances?: unknown; localRollbacks?: unknown; desired?: unknown }) : {};
      const instances: Record<string, PersistedInstance> = {};
      const skipped: string[] = [];
      for (const [name, value] of Object.entries(isObject(parsed.instances) ? parsed.instances : {})) {
        if (unsealSlotEnvs(value, key) && isPersistedInstance(value)) instances[name] = value;
        else skipped.push(name);
      }
      const localRollbacks = Array.isArray(parsed.localRollbacks) ? parsed.localRollbacks.filter(isLocalRollback) : [];
      const desired = isPersistedDesired(parsed.desired) ? { desired: parsed.desired } : {};
      const state: AgentState = { version: STATE_VERSION, instances, ...(localRollbacks.length ? { localRollbacks } : {}), ...desired };
      return { state, skipped, movedAside };
    },
    async close(): Promise<void> {
      await chain.catch(() => undefined);
      await Promise.all(handles.map((h) => h?.close()));
      handles.fill(undefined);
    },
  };
}

/** The state as written: each slot's `env` replaced by `sealedEnv`. */
function sealSlotEnvs(state: AgentState, key: Buffer): AgentState {
  // Entries are checked, not trusted: a save never fails on one malformed entry (load skips it).
  for (const instance of Object.values(state.instances) as unknown[]) {
    if (!isObject(instance) || !isObject(instance.slots)) continue;
    for (const slot of Object.values(instance.slots)) {
      if (!isObject(slot) || !isObject(slot.env)) continue;
      slot.sealedEnv = sealEnv(key, slot.env as Record<string, string>);
      delete slot.env;
    }
  }
  return state;
}

/**
 * Opens each slot's `sealedEnv` back into `env`, in place (a file of an earlier version has `env`
 * in clear and is sealed at the next save); false when one does not open with this machine's key.
 */
function unsealSlotEnvs(value: unknown, key: () => Buffer): boolean {
  if (!isObject(value) || !isObject(value.slots)) return true;
  for (const slot of Object.values(value.slots)) {
    if (!isObject(slot) || slot.sealedEnv === undefined) continue;
    const env = isObject(slot.sealedEnv) ? openEnv(key(), slot.sealedEnv as unknown as SealedEnv) : undefined;
    if (env === undefined) return false;
    slot.env = env;
    delete slot.sealedEnv;
  }
  return true;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);

const isSlot = (s: unknown): boolean =>
  isObject(s) &&
  typeof s.version === 'string' &&
  typeof s.digest === 'string' &&
  typeof s.start === 'string' &&
  typeof s.deploymentId === 'string' &&
  typeof s.stopTimeoutMs === 'number' &&
  isObject(s.env) &&
  isObject(s.health) &&
  optional(s.drain, (d) => isObject(d) && typeof d.path === 'string') &&
  optional(s.runAs, (r) => isObject(r) && isId(r.uid) && isId(r.gid));

const isPersistedDesired = (d: unknown): d is PersistedDesired =>
  isObject(d) && Number.isInteger(d.number) && (d.number as number) > 0 && isObject(d.document);

const isId = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0;

const isPosition = (p: unknown): boolean => isObject(p) && isColor(p.color) && typeof p.version === 'string';

function isLocalRollback(value: unknown): value is PersistedLocalRollback {
  return (
    isObject(value) &&
    typeof value.id === 'string' &&
    typeof value.instance === 'string' &&
    isPosition(value.from) &&
    isPosition(value.to) &&
    typeof value.at === 'number'
  );
}

/**
 * Whether a loaded entry has the shape the agent relies on: checked field by field, so one entry
 * edited by hand or written by a newer agent is skipped instead of failing the whole restore.
 * (The supervisor still validates a slot's spec in full when it starts it.)
 */
function isPersistedInstance(value: unknown): value is PersistedInstance {
  if (!isObject(value)) return false;
  const { hosts, active, slots, preview, maintenance, uid, gid, left, flippedUnder } = value;
  if (!optional(uid, isId) || !optional(gid, isId) || !optional(flippedUnder, isId)) return false;
  if (!optional(left, (l) => isPosition(l) && typeof (l as { deploymentId?: unknown }).deploymentId === 'string')) return false;
  if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) return false;
  if (active !== null && !isColor(active)) return false;
  if (!isObject(slots) || !Object.entries(slots).every(([c, s]) => isColor(c) && isSlot(s))) return false;
  if (!optional(preview, (p) => typeof p === 'string' && /^[\x21-\x7e]{16,}$/.test(p))) return false;
  return optional(
    maintenance,
    (m) =>
      isObject(m) &&
      optional(m.html, (h) => typeof h === 'string') &&
      optional(m.retryAfterSeconds, (r) => Number.isInteger(r) && (r as number) >= 0),
  );
}

function checksum(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
