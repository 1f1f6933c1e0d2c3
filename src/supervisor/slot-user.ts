import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { CutoverError } from '../shared/index.ts';

/** The uid and gid a slot's processes run as (no `/etc/passwd` entry needed). */
export interface SlotUser {
  uid: number;
  gid: number;
  /** The user name, when the slot runs as a named `slotUser`. */
  name?: string;
}

/** An inclusive range of uids the agent hands out to instances, e.g. 61000–61999. */
export interface UidRange {
  first: number;
  last: number;
}

/**
 * The uid for a new instance: the lowest in `range` that is not in `used` (uids of the agent's
 * other instances, of `/etc/passwd` users, and of running processes), or undefined when the
 * range is exhausted. Pure; the gid handed out with it is the same number.
 */
export function allocateSlotUid(used: ReadonlySet<number>, range: UidRange): number | undefined {
  for (let uid = range.first; uid <= range.last; uid += 1) {
    if (!used.has(uid)) return uid;
  }
  return undefined;
}

/** `name:x:uid:gid:…` (a line of `getent passwd` or `/etc/passwd`) → the user, or undefined. */
export function parsePasswdLine(line: string): Required<SlotUser> | undefined {
  const [name, , uid, gid] = line.trim().split(':');
  if (!name || !uid || !gid || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid) };
}

/** Every uid named in a passwd file's text. */
export function passwdUids(text: string): Set<number> {
  const uids = new Set<number>();
  for (const line of text.split('\n')) {
    const user = parsePasswdLine(line);
    if (user) uids.add(user.uid);
  }
  return uids;
}

/**
 * Resolves a `slotUser` setting: `uid:gid`, a bare uid (the gid is the same number), or a user
 * name looked up with `getent passwd` (so NSS users work too). Root is refused: it would undo
 * the isolation.
 */
export async function resolveSlotUser(spec: string): Promise<SlotUser> {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec.trim());
  let user: SlotUser | undefined;
  if (numeric) user = { uid: Number(numeric[1]), gid: Number(numeric[2] ?? numeric[1]) };
  else {
    const line = await new Promise<string>((resolve) => {
      execFile('getent', ['passwd', spec.trim()], { timeout: 5000 }, (error, stdout) =>
        resolve(error ? '' : stdout),
      );
    });
    user = parsePasswdLine(line);
  }
  if (user === undefined) {
    throw new CutoverError(
      'CONFIG_INVALID',
      `slotUser "${spec}" is not a user of this machine; give a user name, a uid or uid:gid`,
    );
  }
  if (user.uid === 0 || user.gid === 0) {
    throw new CutoverError(
      'CONFIG_INVALID',
      `slotUser "${spec}" is root (uid or gid 0); slots must run as an unprivileged user`,
    );
  }
  return user;
}

/** The uids that own a running process (real or effective), read from `/proc`. Empty where there is no `/proc`. */
export async function runningUids(): Promise<Set<number>> {
  const uids = new Set<number>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const line = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
        if (line) {
          uids.add(Number(line[1]));
          uids.add(Number(line[2]));
        }
      }),
  );
  return uids;
}

/**
 * SIGKILLs every process whose real or effective uid is `uid` and whose environment holds
 * `marker` (e.g. `CUTOVER_STATE_DIR=<the instance's state directory>`): what an instance left
 * behind outside its slots' process groups (a daemon that called setsid). The marker keeps it to
 * this instance: another agent's range may overlap. Refuses uid 0 and this process's own uid.
 * Returns how many were signalled.
 */
export async function killUidProcesses(uid: number, marker: string): Promise<number> {
  if (uid === 0 || uid === process.getuid?.() || uid === process.geteuid?.()) return 0;
  let killed = 0;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const pid of entries.filter((e) => /^\d+$/.test(e))) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const line = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    if (!line || (Number(line[1]) !== uid && Number(line[2]) !== uid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (!environ.split('\0').includes(marker)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed += 1;
    } catch {
      // already gone
    }
  }
  return killed;
}
