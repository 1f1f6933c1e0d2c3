import { CutoverError } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { allocateSlotUid, killUidProcesses, runningUids } from '../supervisor/index.ts';
import type { SlotSpec, SlotUser, UidRange } from '../supervisor/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
import type { Isolation } from './isolation.ts';
import type { SlotDirs } from './slot-dirs.ts';

export interface SlotIdentityOptions {
  dirs: SlotDirs;
  /** `uid`: the agent is root and starts each instance's slots as their own uid. */
  isolation: Isolation;
  /** Uids handed out to instances (isolation `uid`, without `slotUser`). */
  slotUidRange: UidRange;
  /** With isolation `uid`: every slot runs as this user instead of a uid of its own. */
  slotUser?: SlotUser;
  /** The agent's state as it is now, and how to persist it. */
  state(): AgentState;
  save(): Promise<void>;
  artifactPath(digest: string): string;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

/**
 * Who each instance's slots run as, and the files they get (see `slot-dirs.ts`): the agent core
 * asks it before a slot starts, and for the part of a slot's spec that says where and as whom.
 */
export function createSlotIdentity(options: SlotIdentityOptions) {
  const { dirs, log } = options;
  /** Why slot uids cannot reach their files (set at `prepare`), refused at every start of a slot. */
  let unreachable: string | undefined;
  /** One allocation at a time: two new instances must never get the same uid. */
  let allocating: Promise<unknown> = Promise.resolve();

  const userNamed = (runAs: { uid: number; gid: number }): SlotUser => {
    const name = options.slotUser?.uid === runAs.uid ? options.slotUser.name : undefined;
    return { uid: runAs.uid, gid: runAs.gid, ...(name === undefined ? {} : { name }) };
  };

  /** Isolation of one slot as started: its own uid, or the agent's. */
  const slotIsolation = (slot: PersistedSlot): Isolation =>
    slot.runAs !== undefined && slot.runAs.uid !== dirs.ownUser.uid ? 'uid' : 'none';

  /**
   * The user the instance's slots run as from now on: `slotUser`, or the uid recorded for the
   * instance, or (first time) the lowest free uid of the range, persisted before any use.
   * Undefined when the agent is not root (slots run as the agent's uid).
   */
  function userOf(name: string, instance: PersistedInstance): Promise<SlotUser | undefined> {
    if (options.isolation !== 'uid') return Promise.resolve(undefined);
    if (options.slotUser) return Promise.resolve(options.slotUser);
    const work = allocating.then(async () => {
      if (instance.uid !== undefined) return { uid: instance.uid, gid: instance.gid ?? instance.uid };
      const used = await dirs.machineUids();
      const taken = new Set<number>();
      for (const other of Object.values(options.state().instances)) if (other.uid !== undefined) taken.add(other.uid);
      for (const u of taken) used.add(u);
      // Its own state directory left from before (the agent state was reset): its uid comes back.
      const leftover = await dirs.leftoverHomeUid(name);
      const { first, last } = options.slotUidRange;
      const uid =
        leftover !== undefined && leftover >= first && leftover <= last && !taken.has(leftover)
          ? leftover
          : allocateSlotUid(used, options.slotUidRange);
      if (uid === undefined) {
        throw new CutoverError(
          'CONFIG_INVALID',
          `no free uid left in slotUidRange ${first}-${last} for instance "${name}"; widen the range`,
        );
      }
      instance.uid = uid;
      instance.gid = uid;
      await options.save();
      log.info({ instance: name, uid }, 'allocated a uid to the instance');
      return { uid, gid: uid };
    });
    allocating = work.catch(() => undefined);
    return work;
  }

  /** Gives the slot its instance's user and its own copy of the release, recording `runAs` (not saved). */
  async function prepareSlot(name: string, instance: PersistedInstance, slot: PersistedSlot): Promise<void> {
    // Checked again, so fixing the directory's mode is enough: no agent restart needed.
    if (unreachable !== undefined) unreachable = await dirs.unreachable({ uid: -1, gid: -1 });
    if (unreachable !== undefined) throw new CutoverError('CONFIG_INVALID', unreachable);
    const user = await userOf(name, instance);
    await dirs.prepareSlot(name, slot.digest, options.artifactPath(slot.digest), user);
    slot.runAs = user ? { uid: user.uid, gid: user.gid } : dirs.ownUser;
  }

  return {
    isolation: options.isolation,

    /** Sets the modes of the agent's directories (at start); logs why slot users cannot reach them, if so. */
    async prepare(): Promise<void> {
      unreachable = await dirs.prepare();
      if (unreachable !== undefined) log.error({}, `${unreachable}; new slots cannot start until then`);
    },

    prepareSlot,

    /** Where and as whom a slot runs: as `runAs` from the instance's own copy, or (no `runAs`) as an older agent started it. */
    specFields(name: string, slot: PersistedSlot): Pick<SlotSpec, 'cwd' | 'stateDir' | 'user'> {
      if (slot.runAs === undefined) return { cwd: dirs.legacyReleaseDir(slot.digest) };
      return {
        cwd: dirs.releaseDir(name, slot.digest),
        stateDir: dirs.stateDir(name),
        ...(slot.runAs.uid === dirs.ownUser.uid ? {} : { user: userNamed(slot.runAs) }),
      };
    },

    /** `uid` only when every slot runs as the instance's own uid (not one adopted from an older agent). */
    isolationOf(instance: PersistedInstance): Isolation {
      const slots = Object.values(instance.slots);
      if (slots.length === 0) return options.isolation;
      return slots.every((s) => slotIsolation(s) === 'uid') ? 'uid' : 'none';
    },

    /**
     * Before a slot is started again at restore: one started by an older agent (no `runAs`), or
     * as another kind of user than the agent can use now, gets its instance's user and copy. If
     * that cannot be done (slot users cannot reach the data directory), it starts as it was:
     * serving comes first.
     */
    async refresh(
      name: string,
      instance: PersistedInstance,
      color: Color,
      slot: PersistedSlot,
    ): Promise<void> {
      const current = slot.runAs;
      const own = current !== undefined && current.uid === dirs.ownUser.uid;
      if (current !== undefined && (options.isolation === 'uid' ? !own : own)) return;
      try {
        await prepareSlot(name, instance, slot);
        await options.save();
        log.info({ instance: name, color, uid: slot.runAs?.uid }, "the slot now runs as its instance's user");
      } catch (error) {
        log.warn(
          { instance: name, color, err: (error as Error).message },
          "could not move the slot to its instance's user; starting it as before",
        );
      }
    },

    /**
     * After a removed instance's slots stopped: its uid goes back to the range, so what it
     * started outside its slots must not live on to meet the next owner (a few rounds, for what
     * was forking while it was being killed). Its files go too; its state directory only once
     * nothing of its uid runs: root deleting a tree that a live process of its owner can change
     * could be led through a swapped-in symlink (and allocation skips that uid meanwhile).
     */
    async forget(name: string, instance: PersistedInstance): Promise<void> {
      const uid = options.slotUser === undefined ? instance.uid : undefined;
      let deleteHome = options.isolation === 'none';
      if (uid !== undefined) {
        const marker = `CUTOVER_STATE_DIR=${dirs.stateDir(name)}`;
        let killed = 0;
        for (let round = 0, n = 1; round < 5 && n > 0; round += 1)
          killed += n = await killUidProcesses(uid, marker);
        if (killed > 0)
          log.warn({ instance: name, uid, killed }, "killed processes the instance's slots left behind");
        deleteHome = !(await runningUids()).has(uid);
        if (!deleteHome)
          log.warn(
            { instance: name, uid },
            'kept the state directory of the removed instance: processes of its uid still run',
          );
      }
      await dirs.removeInstance(name, deleteHome);
    },
  };
}
