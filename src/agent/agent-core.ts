import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CutoverError, COLORS } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import { readPidFile } from '../supervisor/index.ts';
import type { DrainStatus, Supervisor, SlotSpec } from '../supervisor/index.ts';
import { createArtifactStore, unpackArtifact } from '../releases/index.ts';
import type { HealthResult, RuntimeInstance, RuntimeMaintenance, RuntimeSlot, RuntimeSlotSpec } from '../deploy/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
import { createStateFile } from './agent-state.ts';

export interface AgentCoreOptions {
  dataDir: string;
  router: Router;
  supervisor: Supervisor;
  /** The supervisor's `logDir`, where slot pid files are found for adoption. */
  logDir: string;
  drainTimeoutMs: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/**
 * The agent's operations, independent of how they are called (HTTP control API today). It keeps
 * the router and the supervisor in step and persists every change before acting on traffic.
 */
/** What the app's drain endpoint said last, as `describe` reports it. */
function drainOf(d: DrainStatus): NonNullable<RuntimeSlot['drain']> {
  return {
    done: d.done,
    ...(d.pending === undefined ? {} : { pending: d.pending }),
    ...(d.message === undefined ? {} : { message: d.message }),
    ...(d.error === undefined ? {} : { error: d.error }),
  };
}

export function createAgentCore(options: AgentCoreOptions) {
  const { router, supervisor, log } = options;
  const artifacts = createArtifactStore(join(options.dataDir, 'artifacts'));
  const releasesDir = join(options.dataDir, 'releases');
  const stateFile = createStateFile(join(options.dataDir, 'state'));
  let state: AgentState = { version: 1, instances: {} };

  const releaseDir = (digest: string) => join(releasesDir, digest.replace(':', '-'));

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
    cwd: releaseDir(slot.digest),
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

  /** Persists a change to one instance, applies it to the router, and undoes the change if the router refuses it. */
  async function persistThenApply(inst: PersistedInstance, change: (i: PersistedInstance) => void, apply: () => void): Promise<void> {
    const before = { ...inst };
    change(inst);
    await stateFile.save(state); // persisted before traffic sees it
    try {
      apply();
    } catch (error) {
      for (const key of Object.keys(inst) as (keyof PersistedInstance)[]) delete inst[key];
      Object.assign(inst, before);
      await stateFile.save(state);
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
    if (router.state().some((i) => i.name === name && i.slots.some((s) => s.color === color))) {
      await router.drainSlot(name, color, options.drainTimeoutMs);
    }
    await supervisor.stop(name, color);
    if (instance?.slots[color]) {
      delete instance.slots[color];
      await stateFile.save(state);
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
     * Deletes an artifact and its unpacked release; SLOT_BUSY if a slot runs it or keeps it warm.
     * A later deploy of that release fetches it again by digest (`ensureArtifact`).
     */
    async deleteArtifact(digest: string): Promise<void> {
      const file = artifacts.path(digest); // ARTIFACT_INVALID for a malformed digest
      if (digestsInUse().has(digest)) {
        throw new CutoverError('SLOT_BUSY', `a slot of this agent runs ${digest}; it is kept`, { details: { digest } });
      }
      if (Date.now() - (touched.get(digest) ?? 0) < RECENT_MS) {
        throw new CutoverError('SLOT_BUSY', `${digest} was checked for or received in the last ${RECENT_MS / 60_000} minutes (a deploy may be starting it); it is kept`, {
          details: { digest },
        });
      }
      await rm(releaseDir(digest), { recursive: true, force: true });
      await rm(file, { force: true });
    },

    async putArtifact(digest: string, body: Readable): Promise<void> {
      touch(digest);
      await artifacts.put(body, digest);
      await unpackArtifact(artifacts.path(digest), releaseDir(digest));
    },

    async ensureInstance(name: string, hosts: string[]): Promise<void> {
      router.setInstance(name, hosts); // throws HOST_IN_USE before anything is saved
      const existing = state.instances[name];
      state.instances[name] = existing ? { ...existing, hosts } : { hosts, active: null, slots: {} };
      await stateFile.save(state);
    },

    async removeInstance(name: string): Promise<void> {
      const instance = state.instances[name];
      if (!instance) return;
      delete state.instances[name];
      await stateFile.save(state);
      await router.removeInstance(name);
      await Promise.all(COLORS.map((c) => supervisor.stop(name, c)));
    },

    async startSlot(spec: Omit<RuntimeSlotSpec, 'instance' | 'color'>, name: string, color: Color) {
      const instance = instanceOrThrow(name);
      touch(spec.digest); // until the slot below holds it
      if (!(await artifacts.has(spec.digest))) {
        throw new CutoverError('ARTIFACT_NOT_FOUND', `the agent has no artifact ${spec.digest}; upload it first`);
      }
      await unpackArtifact(artifacts.path(spec.digest), releaseDir(spec.digest));
      if (supervisor.get(name, color) || instance.slots[color]) await stopSlot(name, color);
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
      instance.slots[color] = slot;
      touched.delete(spec.digest); // the slot protects it from here
      await stateFile.save(state);
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

    async flip(name: string, color: Color, expectVersion?: string): Promise<{ flippedAt: number }> {
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
      instance.active = color;
      await stateFile.save(state); // persisted before traffic moves
      router.activate(name, color);
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
    async setMaintenance(name: string, maintenance: RuntimeMaintenance | null): Promise<void> {
      const instance = instanceOrThrow(name);
      const page: RuntimeMaintenance | null =
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

    /** The router's counters of one instance. */
    stats(name: string) {
      return router.stats().find((i) => i.instance === name);
    },
    metricsText(): string {
      return router.metricsText();
    },

    describe(name?: string): RuntimeInstance[] {
      const routes = new Map(router.state().map((r) => [r.name, r]));
      return Object.entries(state.instances)
        .filter(([n]) => name === undefined || n === name)
        .map(([n, inst]): RuntimeInstance => {
          const r = routes.get(n);
          const shiftingTo = r?.shiftingTo ?? null;
          return {
            name: n,
            hosts: inst.hosts,
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
      return stateFile.close();
    },

    /** Loads the persisted instances; one broken entry is logged and skipped. */
    async load(): Promise<void> {
      const { state: loaded, skipped } = await stateFile.load();
      for (const name of skipped) log.error({ instance: name }, 'skipped a corrupt instance entry in the agent state');
      state = loaded;
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
