import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CutoverError, systemClock, type Color } from '../shared/index.ts';
import { allocateLoopbackPort } from './free-port.ts';
import { applyHealthCheck, describeCheck, probeHealth } from './health-probe.ts';
import { shellCommand } from './shell-command.ts';
import { buildSlotEnv } from './slot-env.ts';
import { SlotLog } from './slot-log.ts';
import type { HealthOutcome, SlotInfo, SlotSpec, SlotState, Supervisor, SupervisorOptions } from './types.ts';
import { validateSlotSpec } from './validate-slot-spec.ts';
import { signalGroup, settlesWithin } from './process-group.ts';
import { describeExit, failure, label, newSlot, safeName, slotKey, snapshot, type Slot } from './slot.ts';

/** After the leader exits, how long to wait for its pipes to drain before reporting the exit anyway. */
const DRAIN_AFTER_EXIT_MS = 500;
/** After SIGKILL, how long to wait for the pipes before letting go of them. */
const DRAIN_AFTER_KILL_MS = 2000;

const LIVE_STATES: ReadonlySet<SlotState> = new Set(['starting', 'healthy', 'unhealthy', 'stopping']);

/**
 * Creates the supervisor of slot processes on this host.
 *
 * Each slot runs in its own process group (`detached`), so a Ctrl-C in the agent's terminal
 * does not reach the apps: the agent stops them itself, in order. Stopping signals the whole
 * group, so a shell wrapper or `npm start` cannot leave the real server behind.
 */
export function createSupervisor(options: SupervisorOptions): Supervisor {
  const clock = options.clock ?? systemClock;
  const tailLines = options.tailLines ?? 200;
  const baseEnv = options.baseEnv ?? process.env;
  const slots = new Map<string, Slot>();
  const starting = new Map<string, Promise<unknown>>();
  const followers = new Map<string, Set<(line: string) => void>>();
  const changeListeners = new Set<(info: SlotInfo) => void>();

  const setState = (slot: Slot, state: SlotState): void => {
    if (slot.info.state === state) return;
    slot.info.state = state;
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

  const stopChecks = (slot: Slot): void => {
    slot.checking = false;
    clearTimeout(slot.checkTimer);
    slot.checkTimer = undefined;
  };

  const runCheck = async (slot: Slot): Promise<void> => {
    if (!slot.checking) return;
    const { path, timeoutMs, intervalMs } = slot.spec.health;
    const started = performance.now();
    const result = await probeHealth(slot.info.port, path, timeoutMs, clock);
    if (!slot.checking) return;
    slot.info.lastCheck = result;
    const state = slot.info.state;
    if (state === 'starting' || state === 'healthy' || state === 'unhealthy') {
      const next = applyHealthCheck(state, slot.counters, result.ok, slot.spec.health);
      if (next === 'healthy') {
        slot.info.healthySince = clock.now();
        slot.log.write('sup', `healthy: ${describeCheck(path, result)}`);
        setState(slot, 'healthy');
      } else if (next === 'unhealthy') {
        slot.log.write(
          'sup',
          `unhealthy after ${slot.counters.failures} failed checks: ${describeCheck(path, result)}`,
        );
        setState(slot, 'unhealthy');
      }
    }
    if (!slot.checking) return;
    // Interval measured from probe start, and probes never overlap.
    const delay = Math.max(0, intervalMs - (performance.now() - started));
    slot.checkTimer = setTimeout(() => void runCheck(slot), delay);
    slot.checkTimer.unref();
  };

  /** Reports the process's end once its output has drained (or after a bound, if a grandchild holds the pipes). */
  const settle = (slot: Slot): void => {
    if (slot.settled) return;
    slot.settled = true;
    clearTimeout(slot.drainTimer);
    if (slot.stopping !== undefined) return;
    slot.log.write('sup', describeExit(slot.info));
    setState(slot, 'exited');
    if (slot.closed) void slot.log.close();
  };

  const failToStart = (slot: Slot, message: string): void => {
    stopChecks(slot);
    slot.info.error = message;
    slot.info.exitCode = null;
    slot.info.signal = null;
    slot.exited = true;
    slot.markClosed();
    settle(slot);
  };

  const launch = async (slot: Slot): Promise<void> => {
    const { spec, info, log } = slot;
    const dir = await stat(spec.cwd).catch(() => undefined);
    if (dir === undefined || !dir.isDirectory()) {
      failToStart(slot, `release directory ${spec.cwd} does not exist or is not a directory`);
      return;
    }
    log.write('sup', `starting ${spec.version} on port ${info.port}: ${spec.command}`);
    let child: ChildProcess;
    try {
      child = spawn(shellCommand(spec.command), {
        shell: '/bin/sh',
        cwd: spec.cwd,
        env: buildSlotEnv(spec, info.port, baseEnv),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      failToStart(slot, `spawn failed: ${errorText(err)}`);
      return;
    }
    slot.child = child;
    info.pid = child.pid;
    child.on('error', (err) => {
      // Errors after a successful spawn come from signalling, which goes through process.kill instead.
      if (child.pid === undefined) failToStart(slot, `spawn failed: ${errorText(err)}`);
    });
    if (child.pid === undefined) return;
    if (child.stdout) void log.capture(child.stdout, 'out');
    if (child.stderr) void log.capture(child.stderr, 'err');
    child.once('exit', (code, signal) => {
      slot.exited = true;
      info.exitCode = code;
      info.signal = signal;
      stopChecks(slot);
      if (slot.closed) settle(slot);
      else {
        slot.drainTimer = setTimeout(() => settle(slot), DRAIN_AFTER_EXIT_MS);
        slot.drainTimer.unref();
      }
    });
    child.once('close', () => {
      slot.markClosed();
      if (slot.exited) settle(slot);
      if (slot.info.state === 'exited') void log.close();
    });
    slot.checking = true;
    void runCheck(slot);
  };

  const doStop = async (slot: Slot, graceMs: number): Promise<SlotInfo> => {
    stopChecks(slot);
    clearTimeout(slot.drainTimer);
    const pid = slot.info.pid;
    if (!slot.exited) {
      slot.log.write('sup', `stopping: SIGTERM to process group ${pid}`);
      setState(slot, 'stopping');
    }
    if (!slot.closed) {
      signalGroup(pid, 'SIGTERM');
      if (!(await settlesWithin(slot.whenClosed, graceMs))) {
        slot.log.write('sup', `still running ${graceMs}ms after SIGTERM: SIGKILL to process group ${pid}`);
        signalGroup(pid, 'SIGKILL');
        if (!(await settlesWithin(slot.whenClosed, DRAIN_AFTER_KILL_MS))) {
          // Something outside the group holds the pipes; stop reading so the agent can exit.
          slot.child?.stdout?.destroy();
          slot.child?.stderr?.destroy();
        }
      }
    }
    // The leader is gone; group members left behind are orphans nobody else will stop.
    if (signalGroup(pid, 0)) signalGroup(pid, 'SIGKILL');
    slot.settled = true;
    slot.log.write('sup', `stopped (${describeExit(slot.info)})`);
    setState(slot, 'stopped');
    await slot.log.close();
    return snapshot(slot);
  };

  const stopSlot = (slot: Slot, graceMs = slot.spec.stopTimeoutMs): Promise<SlotInfo> => {
    slot.stopping ??= doStop(slot, graceMs);
    return slot.stopping;
  };

  const stop: Supervisor['stop'] = async (instance, color, stopOptions) => {
    const key = slotKey(instance, color);
    // A stop racing a start waits for the spawn, so it cannot run before the process exists.
    await starting.get(key)?.catch(() => undefined);
    const slot = slots.get(key);
    return slot === undefined ? undefined : stopSlot(slot, stopOptions?.timeoutMs);
  };

  const start = async (spec: SlotSpec): Promise<SlotInfo> => {
    validateSlotSpec(spec);
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
      const port = spec.port ?? (await allocateLoopbackPort());
      const file = join(
        options.logDir,
        safeName(spec.instance),
        `${spec.color}-${safeName(spec.version)}.log`,
      );
      const log = new SlotLog(file, tailLines, clock, (line) => deliver(key, line));
      await log.open();
      const slot = newSlot(key, spec, port, log, clock.now());
      slots.set(key, slot);
      await launch(slot);
      return snapshot(slot);
    })();
    starting.set(key, work);
    try {
      return await work;
    } finally {
      starting.delete(key);
    }
  };

  const waitHealthy: Supervisor['waitHealthy'] = (instance, color, timeoutMs) => {
    const slot = slots.get(slotKey(instance, color));
    if (slot === undefined) {
      return Promise.reject(
        new CutoverError(
          'SLOT_NOT_FOUND',
          `no slot ${slotKey(instance, color)} has been started on this agent`,
        ),
      );
    }
    return new Promise<HealthOutcome>((resolve) => {
      const evaluate = (): HealthOutcome | undefined => {
        const state = slot.info.state;
        if (state === 'healthy') return { ok: true, info: snapshot(slot) };
        if (state === 'exited') return failure(slot, 'exited', `${label(slot)} ${describeExit(slot.info)}`);
        if (state === 'stopping' || state === 'stopped')
          return failure(slot, 'stopped', `${label(slot)} was stopped`);
        return undefined;
      };
      const immediate = evaluate();
      if (immediate !== undefined) return resolve(immediate);
      const finish = (outcome: HealthOutcome): void => {
        clearTimeout(timer);
        slot.waiters.delete(waiter);
        resolve(outcome);
      };
      const waiter = (): void => {
        const outcome = evaluate();
        if (outcome !== undefined) finish(outcome);
      };
      const timer = setTimeout(() => {
        const { path, healthyThreshold, unhealthyThreshold } = slot.spec.health;
        const last = describeCheck(path, slot.info.lastCheck);
        if (slot.info.state === 'unhealthy') {
          const why = `${unhealthyThreshold} consecutive failed checks`;
          finish(failure(slot, 'unhealthy', `${label(slot)} became unhealthy (${why}); last check ${last}`));
        } else {
          const progress = `${slot.counters.successes}/${healthyThreshold} consecutive successes`;
          finish(
            failure(
              slot,
              'timeout',
              `${label(slot)} not healthy after ${timeoutMs}ms: last check ${last} (${progress})`,
            ),
          );
        }
      }, timeoutMs);
      timer.unref();
      slot.waiters.add(waiter);
    });
  };

  return {
    start,
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
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
