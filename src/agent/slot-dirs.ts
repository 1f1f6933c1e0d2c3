import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CutoverError } from '../shared/index.ts';
import { passwdUids, runningUids } from '../supervisor/index.ts';
import { unpackInChild } from '../releases/index.ts';
import type { UnpackLimits } from '../releases/index.ts';
import type { SlotUser } from '../supervisor/index.ts';
import { blockingDirectory, type DirOnPath, type Isolation } from './isolation.ts';

/**
 * Where slots' files live under `<dataDir>/agent` and who may reach them. Modes relied on
 * (set here on every start, whatever they were):
 * - `agent/` 0711 and `releases/`, `homes/` 0711, root's: a slot uid may pass through, not list;
 * - `releases/<instance>/` root:<instance gid> 0750, holding one read-only copy per digest
 *   (`sha256-…`, dirs 0750, files 0640, executables 0750);
 * - `homes/<instance>/` <instance uid>:<gid> 0700: the state directory kept across releases;
 * - `private/` 0700: the agent's state and pid files (`agent-files.ts`);
 * - `logs/`, `artifacts/` 0700 (the agent writes slot output itself), and the older shared
 *   `releases/sha256-…` directories 0700 (only slots adopted from an older agent, still running
 *   as root, use them);
 * - the data directory itself must let slot uids through (0711, enforced by the credentials
 *   check); credentials and the database (`<dataDir>/private/`, 0700), `state.a|b` and the pid
 *   file (`agent/private/`, 0700) are 0600 and out of their reach.
 */
/** The entries of a data directory that only their owner may open (see `prepare`). */
const PRIVATE_ENTRIES = [
  'private',
  // An earlier layout's, until the server and the agent have moved them into private/.
  'cutover.db',
  'cutover.db-wal',
  'cutover.db-shm',
  'artifacts',
  'agent-token',
  'agent.json',
  'cli.json',
];

/**
 * `unpackLimits`: the entry, size and heap budget of the child process each release copy is
 * unpacked in (default `DEFAULT_UNPACK_LIMITS`).
 */
export function createSlotDirs(agentDir: string, isolation: Isolation, unpackLimits?: UnpackLimits) {
  const releasesDir = join(agentDir, 'releases');
  const homesDir = join(agentDir, 'homes');
  const ownUid = process.getuid?.() ?? 0;
  const ownGid = process.getgid?.() ?? 0;

  const ensureDir = async (dir: string, mode: number, uid = ownUid, gid = ownGid): Promise<void> => {
    await mkdir(dir, { recursive: true });
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new CutoverError('INTERNAL', `${dir} is not a directory; move it away`);
    // chown only as root (another user may not give files away); the modes whatever the umask.
    if (isolation === 'uid' && (st.uid !== uid || st.gid !== gid)) await chown(dir, uid, gid);
    if ((st.mode & 0o7777) !== mode) await chmod(dir, mode);
  };

  /** The directories above `agentDir` a slot uid must pass through, from `/` down to the data directory. */
  async function pathChain(): Promise<DirOnPath[]> {
    const dirs: string[] = [];
    for (let d = dirname(agentDir); ; d = dirname(d)) {
      dirs.unshift(d);
      if (dirname(d) === d) break;
    }
    return Promise.all(
      dirs.map(async (path) => {
        const st = await stat(path);
        return { path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      }),
    );
  }

  return {
    ownUser: { uid: ownUid, gid: ownGid },

    /**
     * Sets the modes of the agent's directories. Returns why slot uids cannot reach their files
     * (a directory above the data directory they cannot pass), or undefined.
     */
    async prepare(): Promise<string | undefined> {
      if (isolation === 'uid') {
        // The data directory must let slot uids through to agent/; add the search bits only,
        // never read: its entries (credentials, the database) are not theirs to list.
        const dataDir = dirname(agentDir);
        const st = await stat(dataDir);
        // What a 0700 data directory used to hide (the server's artifacts/, a 0644 database,
        // credentials made readable by hand) must not become reachable by path through it. Only
        // Cutover's own names: the data directory may be a place that holds other things too.
        for (const name of PRIVATE_ENTRIES) {
          const entry = await lstat(join(dataDir, name)).catch(() => undefined);
          if (entry && !entry.isSymbolicLink() && (entry.mode & 0o077) !== 0) {
            await chmod(join(dataDir, name), entry.mode & 0o7700);
          }
        }
        if ((st.mode & 0o011) !== 0o011) await chmod(dataDir, (st.mode & 0o7777) | 0o011);
      }
      await ensureDir(agentDir, 0o711);
      await ensureDir(releasesDir, 0o711);
      await ensureDir(homesDir, 0o711);
      await ensureDir(join(agentDir, 'private'), 0o700);
      await ensureDir(join(agentDir, 'logs'), 0o700);
      await ensureDir(join(agentDir, 'artifacts'), 0o700);
      for (const name of await readdir(releasesDir)) {
        // Exactly a digest (an instance may be called `sha256-x`, never 71 characters long).
        if (/^\.?sha256-[0-9a-f]{64}(\.tmp-.*)?$/.test(name))
          await chmod(join(releasesDir, name), 0o700).catch(() => undefined);
      }
      // A uid and gid no directory has: only the "other" bits count, as for a fresh slot uid.
      return this.unreachable({ uid: -1, gid: -1 });
    },

    /** Why `user` cannot reach the agent's directory (naming the directory in the way), or undefined. */
    async unreachable(user: { uid: number; gid: number }): Promise<string | undefined> {
      if (isolation !== 'uid') return undefined;
      const blocking = blockingDirectory(await pathChain(), user);
      if (!blocking) return undefined;
      return (
        `slot users cannot reach ${agentDir}: ${blocking.path} is mode ${blocking.mode.toString(8).padStart(4, '0')} ` +
        `and does not let other users through; make it traversable (chmod o+x ${blocking.path}) or use a data directory slot users can reach (e.g. --data-dir /var/lib/cutover)`
      );
    },

    /** The per-instance release copy of `digest`: `releases/<instance>/sha256-…`. */
    releaseDir: (instance: string, digest: string) => join(releasesDir, instance, digest.replace(':', '-')),
    /** The shared copy an agent before per-instance users unpacked (kept for adopted slots). */
    legacyReleaseDir: (digest: string) => join(releasesDir, digest.replace(':', '-')),
    stateDir: (instance: string) => join(homesDir, instance),

    /**
     * Makes the instance's release copy of `digest` and its state directory, owned as the
     * header says. `user` undefined: slots run as the agent's own uid.
     */
    async prepareSlot(
      instance: string,
      digest: string,
      artifactFile: string,
      user: SlotUser | undefined,
    ): Promise<void> {
      const gid = user?.gid ?? ownGid;
      await ensureDir(join(releasesDir, instance), 0o750, ownUid, gid);
      await ensureDir(join(homesDir, instance), 0o700, user?.uid ?? ownUid, gid);
      const copy = this.releaseDir(instance, digest);
      // A copy made for another gid (the instance's uid was allocated again after its agent
      // state was reset) cannot be read by this one: unpack it afresh.
      const st = await lstat(copy).catch(() => undefined);
      if (st !== undefined && isolation === 'uid' && st.gid !== gid) await rm(copy, { recursive: true, force: true });
      // In a child process with a heap limit, checking the digest and the entry and size budget
      // first (review M5): a hostile archive cannot grow the agent, and a copy is only ever made
      // from the bytes the release names. The child runs as root like the agent, so it can chown.
      await unpackInChild(artifactFile, copy, digest, unpackLimits, { group: gid });
    },

    /**
     * Removes every unpacked copy of `digest` (each instance's, and the shared one of an older
     * agent) once its artifact is pruned; the caller has made sure no slot runs it. Each copy is
     * first renamed aside, then deleted: a copy cut short by a crash must never keep the name
     * `prepareSlot` takes as a finished tree (it unpacks only when the name is missing). Returns
     * how many copies went.
     */
    async removeReleaseCopies(digest: string): Promise<number> {
      const name = digest.replace(':', '-');
      const entries = await readdir(releasesDir).catch(() => [] as string[]);
      // Instances' directories (not the digests an older agent unpacked, not leftovers starting with a dot).
      const copies = [
        join(releasesDir, name),
        ...entries.filter((e) => !e.startsWith('.') && !/^sha256-[0-9a-f]{64}$/.test(e)).map((e) => join(releasesDir, e, name)),
      ];
      let removed = 0;
      for (const copy of copies) {
        const st = await lstat(copy).catch(() => undefined);
        if (!st?.isDirectory()) continue;
        const aside = join(dirname(copy), `.${name}.deleted-${process.pid}-${Date.now()}`);
        await rename(copy, aside);
        await rm(aside, { recursive: true, force: true });
        removed += 1;
      }
      return removed;
    },

    /**
     * The owner of the instance's state directory if one is left from before (its entry was lost
     * with a reset agent state): the instance gets its uid back, and with it its files.
     */
    async leftoverHomeUid(instance: string): Promise<number | undefined> {
      const st = await lstat(join(homesDir, instance)).catch(() => undefined);
      return st?.isDirectory() && st.uid !== ownUid ? st.uid : undefined;
    },

    /**
     * Removes the instance's release copies and, with `ownHome` (its uid was its own and nothing
     * of it runs any more), its state directory: its uid may go to another instance later. A
     * home of a shared `slotUser` is kept: processes of that user could swap its directories for
     * symlinks while root deletes them.
     */
    async removeInstance(instance: string, ownHome: boolean): Promise<void> {
      await rm(join(releasesDir, instance), { recursive: true, force: true });
      if (ownHome) await rm(join(homesDir, instance), { recursive: true, force: true });
    },

    /**
     * Uids a new instance must not get: those of `/etc/passwd` users, of running processes
     * (another agent's slots, or leftovers of a removed instance), and of state directories a
     * removed instance left behind, besides the agent's own instances'.
     */
    async machineUids(): Promise<Set<number>> {
      const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
      const homes = await readdir(homesDir).catch(() => [] as string[]);
      const owners = await Promise.all(
        homes.map((h) =>
          lstat(join(homesDir, h)).then(
            (st) => st.uid,
            () => undefined,
          ),
        ),
      );
      return new Set([
        ...passwdUids(passwd),
        ...(await runningUids()),
        ...owners.filter((u) => u !== undefined),
      ]);
    },
  };
}

export type SlotDirs = ReturnType<typeof createSlotDirs>;
