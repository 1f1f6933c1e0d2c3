import { join } from 'node:path';
import { CutoverError, systemClock, type Color } from '../shared/index.ts';
import { adoptionProblems } from './adoption.ts';
import { allocateLoopbackPort } from './free-port.ts';
import { describeCheck } from './health-probe.ts';
import { pidFilePath } from './pid-file.ts';
import { processAlive } from './process-group.ts';
import { runTestProcess } from './test-process.ts';
import { resolveRestartPolicy } from './restart-policy.ts';
import { SlotLog } from './slot-log.ts';
import { attach, launch, stopChecks, type SlotContext } from './slot-runner.ts';
import { stopSlotProcess } from './slot-stop.ts';
import type { HealthOutcome, PidInfo, SlotInfo, SlotSpec, SlotState, Supervisor, SupervisorOptions } from './types.ts';
import { validateSlotSpec } from './validate-slot-spec.ts';
import { describeExit, failure, label, newSlot, safeName, slotKey, snapshot, type Slot } from './slot.ts';

const LIVE_STATES: ReadonlySet<SlotState> = new Set(['starting', 'healthy', 'unhealthy', 'restarting', 'stopping']);

/**
 * Creates the supervisor of slot processes on this host.
 *
 * Each slot runs in its own process group (`detached`), so a Ctrl-C in the agent's terminal
 * does not reach the apps: the agent stops them itself, in order. Stopping signals the whole
 * group, so a shell wrapper or `npm start` cannot leave the real server behind. A slot's output
 * goes straight to its log file and its pid file names the group, so slot processes do not
 * depend on the agent process and a later agent can `adopt` them.
 */
export function createSupervisor(options: SupervisorOptions): Supervisor {
  const clock = options.clock ?? systemClock;
  const tailLines = options.tailLines ?? 200;
  const logPollMs = options.logPollMs ?? 250;
  const slots = new Map<string, Slot>();
  const starting = new Map<string, Promise<unknown>>();
  const followers = new Map<string, Set<(line: string) => void>>();
  const changeListeners = new Set<(info: SlotInfo) => void>();

  const emit = (slot: Slot): void => {
    const info = snapshot(slot);
    for (const listener of changeListeners) {
      try {
        listener(info);
      } catch {
        // A listener's bug must not break the slot's lifecycle.
      }
    }
    for (const waiter of slot.waiters) waiter();
  };

  const ctx: SlotContext = {
    clock,
    baseEnv: options.path === undefined ? (options.baseEnv ?? process.env) : { ...(options.baseEnv ?? process.env), PATH: options.path },
    restart: resolveRestartPolicy(options.restart),
    setState: (slot, state) => {
      if (slot.info.state === state) return false;
      slot.info.state = state;
      emit(slot);
      return true;
    },
    emit,
  };

  const deliver = (key: string, line: string): void => {
    const set = followers.get(key);
    if (set === undefined) return;
    for (const onLine of set) {
      try {
        onLine(line);
      } catch {
        // Same reasoning as for change listeners.
      }
    }
  };

  const stopSlot = (slot: Slot, graceMs = slot.spec.stopTimeoutMs): Promise<SlotInfo> => {
    slot.stopping ??= stopSlotProcess(ctx, slot, graceMs);
    return slot.stopping;
  };

  const stop: Supervisor['stop'] = async (instance, color, stopOptions) => {
    const key = slotKey(instance, color);
    // A stop racing a start waits for the spawn, so it cannot run before the process exists.
    await starting.get(key)?.catch(() => undefined);
    const slot = slots.get(key);
    if (slot === undefined) return undefined;
    const onProgress = stopOptions?.onProgress;
    if (onProgress === undefined || slot.stopping !== undefined) {
      return stopSlot(slot, stopOptions?.timeoutMs);
    }
    const mine = (progress: Parameters<typeof onProgress>[0]): void => onProgress(progress);
    slot.progressListeners.add(mine);
    try {
      return await stopSlot(slot, stopOptions?.timeoutMs);
    } finally {
      slot.progressListeners.delete(mine);
    }
  };

  /** Refuses a second process in a live slot, then runs `create` with the slot reserved. */
  const reserve = async (spec: SlotSpec, create: (existing: Slot | undefined) => Promise<Slot>): Promise<SlotInfo> => {
    const key = slotKey(spec.instance, spec.color);
    const existing = slots.get(key);
    if (starting.has(key) || (existing !== undefined && LIVE_STATES.has(existing.info.state))) {
      throw new CutoverError(
        'SLOT_BUSY',
        `slot ${key} is already running ${existing?.info.version ?? 'a release'}; stop it before starting another`,
        { details: { instance: spec.instance, color: spec.color } },
      );
    }
    const work = (async () => {
      // An exited slot may still have group members or an open log: clean those up first.
      if (existing !== undefined) await stopSlot(existing);
      return snapshot(await create(existing));
    })();
    starting.set(key, work);
    try {
      return await work;
    } finally {
      starting.delete(key);
    }
  };

  const openSlot = async (spec: SlotSpec, port: number, startedAt: number): Promise<Slot> => {
    const key = slotKey(spec.instance, spec.color);
    const file = join(options.logDir, safeName(spec.instance), `${spec.color}-${safeName(spec.version)}.log`);
    const log = new SlotLog(file, tailLines, clock, (line) => deliver(key, line), logPollMs, options.logRotation);
    await log.open();
    const slot = newSlot(key, spec, port, log, pidFilePath(options.logDir, spec.instance, spec.color), startedAt);
    slots.set(key, slot);
    return slot;
  };

  const start: Supervisor['start'] = async (spec) => {
    validateSlotSpec(spec);
    return reserve(spec, async () => {
      const port = spec.port ?? (await allocateLoopbackPort());
      const slot = await openSlot(spec, port, clock.now());
      await launch(ctx, slot);
      return slot;
    });
  };

  const adopt: Supervisor['adopt'] = async (spec, pidInfo: PidInfo) => {
    validateSlotSpec(spec);
    const problems = await adoptionProblems(spec, pidInfo);
    if (problems.length > 0) {
      throw new CutoverError(
        'VALIDATION_FAILED',
        `cannot adopt process ${pidInfo.pid} into slot ${slotKey(spec.instance, spec.color)}: ${problems.join('; ')}; start the slot afresh instead`,
        { details: { instance: spec.instance, color: spec.color, pid: pidInfo.pid, problems } },
      );
    }
    return reserve(spec, async () => {
      const slot = await openSlot(spec, pidInfo.port, pidInfo.startedAt);
      if (await processAlive(pidInfo.pid)) {
        await slot.log.note(`adopted process group ${pidInfo.pgid} (${spec.version} on port ${pidInfo.port})`);
        attach(ctx, slot, pidInfo.pid);
      } else {
        slot.info.exitCode = null;
        slot.info.signal = null;
        await slot.log.note(`process ${pidInfo.pid} to adopt is gone: ${describeExit(slot.info)}`);
        await slot.log.close();
        slot.info.state = 'exited';
      }
      return slot;
    });
  };

  const waitHealthy: Supervisor['waitHealthy'] = (instance, color, timeoutMs) => {
    const slot = slots.get(slotKey(instance, color));
    if (slot === undefined) {
      return Promise.reject(
        new CutoverError('SLOT_NOT_FOUND', `no slot ${slotKey(instance, color)} has been started on this agent`),
      );
    }
    return new Promise<HealthOutcome>((resolve) => {
      const evaluate = (): HealthOutcome | undefined => {
        const state = slot.info.state;
        if (state === 'healthy') return { ok: true, info: snapshot(slot) };
        if (state === 'exited') return failure(slot, 'exited', `${label(slot)} ${describeExit(slot.info)}`);
        if (state === 'failed') return failure(slot, 'exited', `${label(slot)} ${slot.info.error ?? 'failed'}`);
        if (state === 'stopping' || state === 'stopped') return failure(slot, 'stopped', `${label(slot)} was stopped`);
        return undefined;
      };
      const immediate = evaluate();
      if (immediate !== undefined) return resolve(immediate);
      let done = false;
      const finish = (outcome: HealthOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        slot.waiters.delete(waiter);
        resolve(outcome);
      };
      const waiter = (): void => {
        const outcome = evaluate();
        if (outcome !== undefined) finish(outcome);
      };
      const timer = setTimeout(() => {
        // The tail lags the file by up to a poll: catch up so the outcome shows the latest output.
        void slot.log.catchUp().then(() => finish(timedOut(slot, timeoutMs)));
      }, timeoutMs);
      timer.unref();
      slot.waiters.add(waiter);
    });
  };

  return {
    runTest: (spec) => runTestProcess(spec, ctx.baseEnv),
    start,
    adopt,
    waitHealthy,
    stop,
    get: (instance: string, color: Color) => {
      const slot = slots.get(slotKey(instance, color));
      return slot === undefined ? undefined : snapshot(slot);
    },
    list: () => [...slots.values()].map(snapshot),
    tail: (instance: string, color: Color, lines?: number) =>
      slots.get(slotKey(instance, color))?.log.tail(lines) ?? [],
    follow: (instance: string, color: Color, onLine: (line: string) => void) => {
      const key = slotKey(instance, color);
      let set = followers.get(key);
      if (set === undefined) followers.set(key, (set = new Set()));
      const mine = (line: string): void => onLine(line);
      set.add(mine);
      return () => {
        set.delete(mine);
        if (set.size === 0 && followers.get(key) === set) followers.delete(key);
      };
    },
    onChange: (listener: (info: SlotInfo) => void) => {
      const mine = (info: SlotInfo): void => listener(info);
      changeListeners.add(mine);
      return () => void changeListeners.delete(mine);
    },
    stopAll: async () => {
      await Promise.allSettled([...starting.values()]);
      await Promise.all([...slots.values()].map((slot) => stopSlot(slot)));
    },
    releaseAll: async () => {
      await Promise.allSettled([...starting.values()]);
      await Promise.all(
        [...slots.values()].map(async (slot) => {
          // A settled `stopping` makes a late exit event a no-op: no restart, no pid file removal.
          slot.stopping ??= Promise.resolve(snapshot(slot));
          stopChecks(slot);
          clearTimeout(slot.restartTimer);
          await slot.launching?.catch(() => undefined);
          const proc = slot.proc;
          if (proc !== undefined) {
            clearInterval(proc.poll);
            // Our own child would otherwise keep this process alive; it runs on in its own group.
            proc.child?.unref();
          }
          await slot.pidWrite;
          await slot.log.close();
        }),
      );
      slots.clear();
    },
  };
}

/** The `waitHealthy` outcome when its deadline passes: what the last check saw, or why nothing runs. */
function timedOut(slot: Slot, timeoutMs: number): HealthOutcome {
  const { path, healthyThreshold, unhealthyThreshold } = slot.spec.health;
  const last = describeCheck(path, slot.info.lastCheck);
  if (slot.info.state === 'unhealthy') {
    const why = `${unhealthyThreshold} consecutive failed checks`;
    return failure(slot, 'unhealthy', `${label(slot)} became unhealthy (${why}); last check ${last}`);
  }
  if (slot.info.state === 'restarting') {
    const crash = slot.info.crashes?.at(-1);
    const what = crash?.error ?? describeExit(slot.info);
    return failure(slot, 'exited', `${label(slot)} not healthy after ${timeoutMs}ms: it crashed (${what}) and is waiting to restart`);
  }
  const progress = `${slot.counters.successes}/${healthyThreshold} consecutive successes`;
  return failure(slot, 'timeout', `${label(slot)} not healthy after ${timeoutMs}ms: last check ${last} (${progress})`);
}
