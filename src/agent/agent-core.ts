import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CutoverError, COLORS } from '../shared/index.ts';
import type { Color, FlipReason } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import { readPidFile, stopOrphanSlots } from '../supervisor/index.ts';
import type { DrainStatus, Supervisor, SlotSpec, SlotUser, UidRange } from '../supervisor/index.ts';
import { createArtifactStore } from '../releases/index.ts';
import type { UnpackLimits } from '../releases/index.ts';
import type { HealthResult, InstanceReport, Maintenance, SlotReport, SlotSpec as StartRequest } from '../protocol/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
import { STATE_VERSION, createStateFile } from './agent-state.ts';
import { agentStateBase } from './agent-files.ts';
import { createStateSaver } from './state-saver.ts';
import type { Isolation } from './isolation.ts';
import { createSlotDirs } from './slot-dirs.ts';
import { createSlotIdentity } from './slot-identity.ts';
import { createTestRunner } from './test-runner.ts';

/** How long a slot being stopped gets to finish its short requests before the app hears SIGTERM. */
const SETTLE_MS = 1000;

export interface AgentCoreOptions {
  dataDir: string;
  router: Router;
  supervisor: Supervisor;
  /** The supervisor's `logDir`, where slot pid files are found for adoption. */
  logDir: string;
  drainTimeoutMs: number;
  /** Entry, size and heap budget of unpacking an artifact (settings unpackMax*); default `DEFAULT_UNPACK_LIMITS`. */
  unpackLimits?: UnpackLimits;
  /** How often a state write that failed for a full disk is tried again (default 1 s). */
  saveRetryMs?: number;
  /** `uid`: the agent is root and starts each instance's slots as their own uid (see `slot-dirs.ts`). */
  isolation: Isolation;
  /** Uids handed out to instances (isolation `uid`, without `slotUser`). */
  slotUidRange: UidRange;
  /** With isolation `uid`: every slot runs as this user instead of a uid of its own. */
  slotUser?: SlotUser;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** The router's port once it listens: a release's tests reach the instance through it. */
  routerPort?: () => number | undefined;
}

/** What the app's drain endpoint said last, as `describe` reports it. */
function drainOf(d: DrainStatus): NonNullable<SlotReport['drain']> {
  return {
    done: d.done,
    ...(d.pending === undefined ? {} : { pending: d.pending }),
    ...(d.message === undefined ? {} : { message: d.message }),
    ...(d.error === undefined ? {} : { error: d.error }),
  };
}

/**
 * The agent's operations, independent of how they are called (the agent protocol's messages,
 * `protocol-handlers.ts`; over the HTTP control API today). It keeps
 * the router and the supervisor in step and persists every change before acting on traffic.
 */
export function createAgentCore(options: AgentCoreOptions) {
  const { router, supervisor, log } = options;
  const artifacts = createArtifactStore(join(options.dataDir, 'artifacts'));
  const stateFile = createStateFile(agentStateBase(options.dataDir));
  let state: AgentState = { version: STATE_VERSION, instances: {} };
  const saver = createStateSaver({ file: stateFile, current: () => state, dataDir: options.dataDir, retryMs: options.saveRetryMs ?? 1000, log });
  const save = saver.save;
  const dirs = createSlotDirs(options.dataDir, options.isolation, options.unpackLimits);
  const identity = createSlotIdentity({
    dirs,
    isolation: options.isolation,
    slotUidRange: options.slotUidRange,
    ...(options.slotUser ? { slotUser: options.slotUser } : {}),
    state: () => state,
    save,
    artifactPath: (digest) => artifacts.path(digest),
    log,
  });

  const tests = createTestRunner({
    supervisor,
    identity,
    state: () => state,
    hasArtifact: (digest) => artifacts.has(digest),
    routerPort: () => options.routerPort?.(),
    log,
  });

  function instanceOrThrow(name: string) {
    const instance = state.instances[name];
    if (!instance) {
      throw new CutoverError('INSTANCE_NOT_FOUND', `the agent does not know instance "${name}"`, { details: { instance: name } });
    }
    return instance;
  }

  const specOf = (name: string, color: Color, slot: PersistedSlot): SlotSpec => ({
    instance: name,
    color,
    version: slot.version,
    ...identity.specFields(name, slot),
    command: slot.start,
    env: slot.env,
    health: slot.health,
    stopTimeoutMs: slot.stopTimeoutMs,
    ...(slot.drain ? { drain: slot.drain } : {}),
  });
  /** Slots taken over from a previous agent by `adoptRunning`, which `restore` leaves alone. */
  const adopted = new Set<string>();

  /**
   * Routes the instance's hosts and re-applies what the router must know before any request of
   * it is served: the preview token and the maintenance page (both persisted, both lost by a
   * fresh router). A weighted shift is not persisted: after a restart everyone is on `active`.
   */
  function route(name: string, inst: PersistedInstance): void {
    router.setInstance(name, inst.hosts);
    router.setPreviewToken(name, inst.preview ?? null);
    router.setMaintenance(name, inst.maintenance ?? null);
  }

  function restore(inst: PersistedInstance, before: PersistedInstance): void {
    for (const key of Object.keys(inst) as (keyof PersistedInstance)[]) delete inst[key];
    Object.assign(inst, before);
  }

  /** Persists a change to one instance, applies it to the router, and undoes the change if the router refuses it. */
  async function persistThenApply(inst: PersistedInstance, change: (i: PersistedInstance) => void, apply: () => void): Promise<void> {
    const before = { ...inst };
    change(inst);
    try {
      await save(); // persisted before traffic sees it
    } catch (error) {
      restore(inst, before);
      throw error;
    }
    try {
      apply();
    } catch (error) {
      restore(inst, before);
      await save();
      throw error;
    }
  }

  /**
   * Active slots whose process is down (crashed and restarting, or given up on): the router holds
   * their new requests (up to `pauseTimeout`, then 503 with Retry-After) instead of answering 502
   * from a refused connection, and serves them again once the restarted slot is healthy.
   */
  const down = new Set<string>();
  supervisor.onChange((info) => {
    const key = `${info.instance}/${info.color}`;
    if (state.instances[info.instance]?.active !== info.color) {
      down.delete(key);
      return;
    }
    const routed = router.state().find((r) => r.name === info.instance);
    if ((info.state === 'restarting' || info.state === 'failed') && !down.has(key) && routed?.active === info.color) {
      down.add(key);
      router.deactivate(info.instance);
      log.warn({ instance: info.instance, color: info.color }, 'the serving slot is down; holding its requests until it is back');
    } else if (info.state === 'healthy' && down.delete(key)) {
      router.activate(info.instance, info.color);
      log.info({ instance: info.instance, color: info.color }, 'the serving slot is back; serving its held requests');
    }
  });

  async function launch(name: string, color: Color, slot: PersistedSlot) {
    const info = await supervisor.start(specOf(name, color, slot));
    router.setSlot(name, { color, version: slot.version, port: info.port, deploymentId: slot.deploymentId });
    return info;
  }

  async function stopSlot(name: string, color: Color): Promise<void> {
    const instance = state.instances[name];
    if (instance?.active === color) {
      throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" is serving; flip away from it before stopping it`);
    }
    const routed = router.state().find((i) => i.name === name && i.slots.some((s) => s.color === color));
    if (routed && routed.weights[color] > 0) {
      throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" receives traffic; flip away from it before stopping it`);
    }
    // The router stops sending the slot requests at once. Short requests get a moment to finish;
    // then the app is told (SIGTERM, its drain endpoint) while the HTTP drain goes on, so an app
    // that ends its streams (SSE) on SIGTERM ends the drain early instead of having them cut at
    // drainTimeout, and the next deployment's prepare does not wait for it (acceptance §4).
    const draining = routed ? router.drainSlot(name, color, options.drainTimeoutMs) : undefined;
    if (draining) {
      await Promise.race([draining, new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_MS, options.drainTimeoutMs)).unref())]);
    }
    await Promise.all([draining, supervisor.stop(name, color)]);
    if (instance?.slots[color]) {
      delete instance.slots[color];
      await save();
    }
  }

  // When each artifact was last asked about or received: a deploy checks (HEAD), then starts it a
  // moment later, so a prune planned in between must not delete what it just checked. Once a slot
  // runs it, the slot protects it (digestsInUse) and the mark goes.
  const touched = new Map<string, number>();
  const RECENT_MS = 15 * 60_000;
  const touch = (digest: string) => touched.set(digest, Date.now());

  /** Digests a slot of this agent runs or keeps warm: never pruned, whatever the server asks. */
  const digestsInUse = (): Set<string> =>
    new Set(Object.values(state.instances).flatMap((i) => Object.values(i.slots).map((s) => s!.digest)));

  return {
    /** The agent's data directory (what a `DISK_FULL` error names). */
    dataDir: options.dataDir,

    async hasArtifact(digest: string): Promise<boolean> {
      touch(digest);
      return artifacts.has(digest);
    },

    /** The artifacts this agent holds, with their sizes and whether a slot uses them (for `cutover prune`). */
    async listArtifacts(): Promise<{ digest: string; size: number; inUse: boolean }[]> {
      const used = digestsInUse();
      let names: string[];
      try {
        names = await readdir(artifacts.dir);
      } catch {
        return [];
      }
      const out: { digest: string; size: number; inUse: boolean }[] = [];
      for (const name of names.sort()) {
        const m = /^sha256-([0-9a-f]{64})\.tgz$/.exec(name);
        if (!m) continue;
        const digest = `sha256:${m[1]}`;
        const size = await stat(join(artifacts.dir, name)).then((s) => s.size, () => 0);
        out.push({ digest, size, inUse: used.has(digest) });
      }
      return out;
    },

    /**
     * Deletes an artifact and the instances' unpacked copies of it; SLOT_BUSY if a slot runs it
     * or keeps it warm, or a deploy just checked for it. A later deploy of that release fetches it
     * again by digest (`ensureArtifact`) and its slot start unpacks a fresh copy.
     */
    async deleteArtifact(digest: string): Promise<void> {
      const file = artifacts.path(digest); // ARTIFACT_INVALID for a malformed digest
      const busy = (): CutoverError | undefined => {
        if (digestsInUse().has(digest)) {
          return new CutoverError('SLOT_BUSY', `a slot of this agent runs ${digest}; it is kept`, { details: { digest } });
        }
        if (Date.now() - (touched.get(digest) ?? 0) < RECENT_MS) {
          return new CutoverError('SLOT_BUSY', `${digest} was checked for or received in the last ${RECENT_MS / 60_000} minutes (a deploy may be starting it); it is kept`, {
            details: { digest },
          });
        }
        return undefined;
      };
      const refused = busy();
      if (refused) throw refused;
      // The file first: a slot start that slips in from here finds no artifact to unpack.
      await rm(file, { force: true });
      // One that slipped in before (it touched the digest, or holds it already) may be unpacking
      // or running its copy: the copies stay, and go at a later prune.
      if (busy()) {
        log.warn({ digest }, 'deleted the artifact; kept its release copies, a slot start took it meanwhile');
        return;
      }
      const removed = await dirs.removeReleaseCopies(digest);
      if (removed > 0) log.info({ digest, copies: removed }, "deleted the artifact and the instances' release copies of it");
    },

    /** Stores the artifact; each instance unpacks its own copy when it starts a slot of it. */
    async putArtifact(digest: string, body: Readable): Promise<void> {
      touch(digest);
      await artifacts.put(body, digest);
    },

    async ensureInstance(name: string, hosts: string[]): Promise<void> {
      router.setInstance(name, hosts); // throws HOST_IN_USE before anything is saved
      const existing = state.instances[name];
      state.instances[name] = existing ? { ...existing, hosts } : { hosts, active: null, slots: {} };
      try {
        await save();
      } catch (error) {
        // Not saved (a full disk): the router goes back to what the files say.
        if (existing) {
          state.instances[name] = existing;
          router.setInstance(name, existing.hosts);
        } else {
          delete state.instances[name];
          await router.removeInstance(name);
        }
        throw error;
      }
    },

    async removeInstance(name: string): Promise<void> {
      const instance = state.instances[name];
      if (!instance) return;
      delete state.instances[name];
      await save();
      await router.removeInstance(name);
      await Promise.all(COLORS.map((c) => supervisor.stop(name, c)));
      await identity.forget(name, instance);
    },

    async startSlot(spec: Omit<StartRequest, 'instance' | 'color'>, name: string, color: Color) {
      const instance = instanceOrThrow(name);
      touch(spec.digest); // until the slot below holds it
      if (!(await artifacts.has(spec.digest))) {
        throw new CutoverError('ARTIFACT_NOT_FOUND', `the agent has no artifact ${spec.digest}; upload it first`);
      }
      const slot: PersistedSlot = {
        version: spec.version,
        digest: spec.digest,
        start: spec.start,
        env: spec.env,
        health: spec.health,
        stopTimeoutMs: spec.stopTimeoutMs,
        deploymentId: spec.deploymentId,
        ...(spec.drain ? { drain: spec.drain } : {}),
      };
      // Before the colour's old slot is stopped: a slot that cannot be prepared changes nothing.
      await identity.prepareSlot(name, instance, slot);
      if (supervisor.get(name, color) || instance.slots[color]) await stopSlot(name, color);
      instance.slots[color] = slot;
      try {
        await save();
      } catch (error) {
        delete instance.slots[color]; // not saved: not started either
        throw error;
      }
      touched.delete(spec.digest); // the slot protects it from here
      const info = await launch(name, color, slot);
      return { port: info.port, ...(info.pid === undefined ? {} : { pid: info.pid }) };
    },

    async waitHealthy(name: string, color: Color, timeoutMs: number): Promise<HealthResult> {
      const outcome = await supervisor.waitHealthy(name, color, timeoutMs);
      if (outcome.ok) return { ok: true, healthySince: outcome.info.healthySince ?? Date.now() };
      return {
        ok: false,
        reason: outcome.reason,
        message: outcome.message,
        ...(outcome.lastCheck ? { lastCheck: outcome.lastCheck } : {}),
        logTail: outcome.logTail,
      };
    },

    async flip(name: string, color: Color, expectVersion?: string, reason: FlipReason = 'forward'): Promise<{ flippedAt: number }> {
      const instance = instanceOrThrow(name);
      const slot = instance.slots[color];
      if (!slot) {
        throw new CutoverError('SLOT_NOT_FOUND', `instance "${name}" has nothing in its ${color} slot to flip to`);
      }
      if (expectVersion !== undefined) {
        const state = supervisor.get(name, color)?.state ?? 'stopped';
        if (slot.version !== expectVersion || state !== 'healthy') {
          throw new CutoverError(
            'SLOT_NOT_READY',
            `the ${color} slot of "${name}" is not serving ${expectVersion} healthy (it runs ${slot.version}, ${state})`,
            { details: { color, version: slot.version, state } },
          );
        }
      }
      const before = instance.active;
      instance.active = color;
      try {
        await save(); // persisted before traffic moves
      } catch (error) {
        if (!isDiskFull(error)) {
          instance.active = before;
          throw error;
        }
        // The emergency path: with the agent's disk full, a flip (a rollback above all) still
        // moves traffic; the write is retried until it lands. Until then a restart serves the
        // previous route (the files still hold it).
        log.error({ instance: name, color, dir: options.dataDir }, 'flipped although the agent state could not be written (disk full); retrying the write in the background');
        saver.retryInBackground();
      }
      router.activate(name, color, reason);
      for (const c of COLORS) down.delete(`${name}/${c}`); // a flip ends any hold
      return { flippedAt: Date.now() };
    },

    /**
     * A weighted step towards `color` (see `Runtime.shift`). Not persisted on purpose: the active
     * colour stays what it was, so an agent restart puts every client back on it.
     */
    shift(name: string, color: Color, percent: number): { shiftedAt: number } {
      const instance = instanceOrThrow(name);
      const slot = instance.slots[color];
      const routed = router.state().find((r) => r.name === name);
      if (!slot || !routed?.slots.some((s) => s.color === color)) {
        throw new CutoverError('SLOT_NOT_FOUND', `instance "${name}" has nothing in its ${color} slot to shift to`, {
          details: { color },
        });
      }
      if (instance.active === color) {
        throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" already serves everyone; shift to the other colour`, {
          details: { color },
        });
      }
      const slotState = supervisor.get(name, color)?.state ?? 'stopped';
      if (slotState !== 'healthy') {
        throw new CutoverError('SLOT_NOT_READY', `the ${color} slot of "${name}" is ${slotState}, not healthy; wait for it before shifting traffic to it`, {
          details: { color, version: slot.version, state: slotState },
        });
      }
      if (instance.active === null || routed.active !== instance.active) {
        throw new CutoverError('SLOT_NOT_READY', `instance "${name}" has no active colour serving yet to shift from; flip to ${color} instead`, {
          details: { color },
        });
      }
      router.shift(name, color, percent);
      return { shiftedAt: Date.now() };
    },

    /** Opens the preview of the idle colour with `token`, or closes it (null). Persisted first. */
    async setPreview(name: string, token: string | null): Promise<void> {
      const instance = instanceOrThrow(name);
      await persistThenApply(
        instance,
        (i) => {
          if (token === null) delete i.preview;
          else i.preview = token;
        },
        () => router.setPreviewToken(name, token),
      );
    },

    /** Maintenance on (the page) or off (null). Persisted first. */
    async setMaintenance(name: string, maintenance: Maintenance | null): Promise<void> {
      const instance = instanceOrThrow(name);
      const page: Maintenance | null =
        maintenance === null
          ? null
          : {
              ...(maintenance.html === undefined ? {} : { html: maintenance.html }),
              ...(maintenance.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: maintenance.retryAfterSeconds }),
            };
      await persistThenApply(
        instance,
        (i) => {
          if (page === null) delete i.maintenance;
          else i.maintenance = page;
        },
        () => router.setMaintenance(name, page),
      );
    },

    stopSlot,

    /** Runs a release's test (see `createTestRunner`). */
    runTest: tests.run,
    cancelTest: tests.cancel,

    /** The router's counters of one instance. */
    stats(name: string) {
      return router.stats().find((i) => i.instance === name);
    },
    metricsText(): string {
      return router.metricsText();
    },

    describe(name?: string): InstanceReport[] {
      const routes = new Map(router.state().map((r) => [r.name, r]));
      return Object.entries(state.instances)
        .filter(([n]) => name === undefined || n === name)
        .map(([n, inst]): InstanceReport => {
          const r = routes.get(n);
          const shiftingTo = r?.shiftingTo ?? null;
          return {
            name: n,
            hosts: inst.hosts,
            isolation: identity.isolationOf(inst),
            active: r?.active ?? null,
            ...(shiftingTo && r ? { shift: { color: shiftingTo, percent: r.weights[shiftingTo] } } : {}),
            preview: r?.preview ?? inst.preview !== undefined,
            maintenance: r?.maintenance ?? inst.maintenance !== undefined,
            slots: COLORS.flatMap((c) => {
              const slot = inst.slots[c];
              if (!slot) return [];
              const info = supervisor.get(n, c);
              return [
                {
                  color: c,
                  version: slot.version,
                  deploymentId: slot.deploymentId,
                  state: info?.state ?? 'stopped',
                  restarts: info?.restarts ?? 0,
                  ...(info?.state === 'stopping' && info.drain ? { drain: drainOf(info.drain) } : {}),
                  ...(info ? { port: info.port } : {}),
                  ...(info?.pid === undefined ? {} : { pid: info.pid }),
                },
              ];
            }),
          };
        });
    },

    logLines(name: string, color: Color | undefined, lines: number) {
      const c = color ?? state.instances[name]?.active ?? 'blue';
      return { color: c, lines: supervisor.tail(name, c, lines) };
    },

    follow(name: string, color: Color, onLine: (line: string) => void) {
      return supervisor.follow(name, color, onLine);
    },

    /** Closes the state files (after the router and the slots have stopped). */
    close(): Promise<void> {
      tests.cancelAll();
      saver.stop();
      return stateFile.close();
    },

    isolation: options.isolation,

    /**
     * Loads the persisted instances; one broken entry is logged and skipped. State files that
     * exist with none valid are refused (`AGENT_STATE_INVALID`, logged) unless `resetState`,
     * which moves them aside and starts empty (see `createStateFile().load`).
     */
    async load(loadOptions: { resetState?: boolean } = {}): Promise<void> {
      await identity.prepare();
      let loaded;
      try {
        loaded = await stateFile.load(loadOptions);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'the agent state is invalid; refusing to start');
        throw error;
      }
      for (const file of loaded.movedAside) log.error({ file }, 'moved an invalid agent state file aside (--reset-state); starting empty');
      for (const name of loaded.skipped) log.error({ instance: name }, 'skipped a corrupt instance entry in the agent state');
      state = loaded.state;
    },

    /**
     * Stops the slot processes a previous agent left behind that no slot of this agent took
     * over (after `adoptRunning`): their state entry was skipped or reset, or they could not be
     * adopted (then `restore` starts the slot afresh, on a free port). Each is logged.
     */
    async stopOrphans(): Promise<void> {
      const outcomes = await stopOrphanSlots(options.logDir, (instance, color) => supervisor.get(instance, color) !== undefined);
      for (const o of outcomes) {
        const fields = { instance: o.instance, color: o.color, pid: o.pid, port: o.port, version: o.version, outcome: o.outcome };
        if (o.outcome === 'stopped' || o.outcome === 'killed') log.warn(fields, 'stopped a slot process that no agent state entry claims');
        else if (o.outcome === 'left') log.warn({ ...fields, problems: o.problems }, 'a stale slot pid file names another process now; removed the file, left the process alone');
        else log.info(fields, 'removed the pid file of a slot process that is gone');
      }
    },

    /**
     * Takes over the slot processes a previous agent left running (agent handover): for each
     * persisted slot whose pid file names a live process that `supervisor.adopt` accepts, adopts it,
     * re-checks its health from zero, and only then registers it in the router (and activates the
     * active colour). A slot that cannot be adopted is left for `restore` to start afresh. Run it
     * before the router listens, so the successor gets traffic only once its routes are ready.
     */
    async adoptRunning(timeoutMs = 30_000): Promise<void> {
      await Promise.all(
        Object.entries(state.instances).map(async ([name, inst]) => {
          try {
            route(name, inst);
            await Promise.all(
              COLORS.map(async (color) => {
                const slot = inst.slots[color];
                const pidInfo = slot ? await readPidFile(options.logDir, name, color) : undefined;
                if (!slot || !pidInfo) return;
                let info;
                try {
                  info = await supervisor.adopt(specOf(name, color, slot), pidInfo);
                } catch (error) {
                  log.warn({ instance: name, color, err: (error as Error).message }, 'slot not adopted; starting it afresh');
                  return;
                }
                if (info.state === 'exited') {
                  await supervisor.stop(name, color); // forgets the dead record so `restore` can start it
                  return;
                }
                adopted.add(`${name}/${color}`);
                const outcome = await supervisor.waitHealthy(name, color, timeoutMs);
                if (!outcome.ok) log.warn({ instance: name, color, reason: outcome.message }, 'adopted slot is not healthy');
                router.setSlot(name, { color, version: slot.version, port: info.port, deploymentId: slot.deploymentId });
                if (outcome.ok && inst.active === color) router.activate(name, color);
              }),
            );
          } catch (error) {
            log.error({ instance: name, err: (error as Error).message }, 'could not adopt instance');
          }
        }),
      );
    },

    /**
     * Serves the loaded instances again: routes first, then each slot's process (except those
     * `adoptRunning` took over), flipping the active one back on once it is healthy. Runs while
     * the control API already answers.
     */
    async restore(): Promise<void> {
      await Promise.all(
        Object.entries(state.instances).map(async ([name, inst]) => {
          try {
            route(name, inst);
            for (const color of COLORS) {
              const slot = inst.slots[color];
              if (!slot || adopted.has(`${name}/${color}`)) continue;
              await identity.refresh(name, inst, color, slot);
              await launch(name, color, slot);
            }
            if (inst.active && inst.slots[inst.active] && !adopted.has(`${name}/${inst.active}`)) {
              const outcome = await supervisor.waitHealthy(name, inst.active, 60_000);
              if (outcome.ok) router.activate(name, inst.active);
              else log.warn({ instance: name, reason: outcome.message }, 'restored slot did not become healthy');
            }
          } catch (error) {
            log.error({ instance: name, err: (error as Error).message }, 'could not restore instance');
          }
        }),
      );
    },
  };
}

export type AgentCore = ReturnType<typeof createAgentCore>;

const isDiskFull = (error: unknown): boolean => (error as { code?: unknown })?.code === 'DISK_FULL';
