import type { ChildProcess } from 'node:child_process';
import type { Color } from '../shared/index.ts';
import type { HealthCounters } from './health-probe.ts';
import type { CrashHistory } from './restart-policy.ts';
import type { SlotLog } from './slot-log.ts';
import type { HealthOutcome, SlotInfo, SlotSpec, StopProgress } from './types.ts';

/** Lines of output attached to a failed `waitHealthy` outcome. */
const OUTCOME_TAIL_LINES = 20;
/** Crash events kept in a slot's info. */
const CRASHES_KEPT = 20;

/** One process generation of a slot: the first start, each restart, or an adopted process. */
export interface SlotProcess {
  pid: number;
  /** Our own child; absent for an adopted process (its exit is found by polling). */
  child: ChildProcess | undefined;
  /** The leader is gone. */
  exited: boolean;
  whenExited: Promise<void>;
  markExited: () => void;
  /** The exit poll of an adopted process. */
  poll?: NodeJS.Timeout;
}

/** The supervisor's record of one slot: the public info plus the process and health-check bookkeeping. */
export interface Slot {
  key: string;
  spec: SlotSpec;
  info: SlotInfo;
  log: SlotLog;
  pidFile: string;
  /** The last pid file write, which a removal waits for so a stale file cannot reappear. */
  pidWrite: Promise<void>;
  proc: SlotProcess | undefined;
  counters: HealthCounters;
  checking: boolean;
  checkTimer: NodeJS.Timeout | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  /** Set once the slot has been healthy: from then on, an unexpected exit is a crash to restart. */
  everHealthy: boolean;
  crashes: CrashHistory;
  /** A respawn in progress, which a stop waits for so it cannot leave a new process behind. */
  launching: Promise<void> | undefined;
  stopping: Promise<SlotInfo> | undefined;
  progressListeners: Set<(progress: StopProgress) => void>;
  waiters: Set<() => void>;
}

/** A fresh record in state `starting`; the spec is copied so later edits by the caller change nothing. */
export function newSlot(key: string, spec: SlotSpec, port: number, log: SlotLog, pidFile: string, now: number): Slot {
  return {
    key,
    spec: {
      ...spec,
      env: { ...spec.env },
      health: { ...spec.health },
      ...(spec.drain === undefined ? {} : { drain: { ...spec.drain } }),
    },
    info: {
      instance: spec.instance,
      color: spec.color,
      version: spec.version,
      pid: undefined,
      port,
      state: 'starting',
      startedAt: now,
      logFile: log.file,
    },
    log,
    pidFile,
    pidWrite: Promise.resolve(),
    proc: undefined,
    counters: { successes: 0, failures: 0 },
    checking: false,
    checkTimer: undefined,
    restartTimer: undefined,
    everHealthy: false,
    crashes: { times: [], attempt: 0 },
    launching: undefined,
    stopping: undefined,
    progressListeners: new Set(),
    waiters: new Set(),
  };
}

/** A process record whose `whenExited` resolves once `markExited` is called. */
export function newProcess(pid: number, child: ChildProcess | undefined): SlotProcess {
  let resolve = (): void => undefined;
  const whenExited = new Promise<void>((r) => (resolve = r));
  const proc: SlotProcess = {
    pid,
    child,
    exited: false,
    whenExited,
    markExited: () => {
      proc.exited = true;
      resolve();
    },
  };
  return proc;
}

/** Appends a crash event, keeping the last few. */
export function recordCrash(slot: Slot, event: NonNullable<SlotInfo['crashes']>[number]): void {
  const crashes = [...(slot.info.crashes ?? []), event];
  slot.info.crashes = crashes.slice(-CRASHES_KEPT);
}

/** A copy of the slot's info that callers may keep or mutate. */
export function snapshot(slot: Slot): SlotInfo {
  const info = { ...slot.info };
  if (info.lastCheck !== undefined) info.lastCheck = { ...info.lastCheck };
  if (info.crashes !== undefined) info.crashes = info.crashes.map((c) => ({ ...c }));
  if (info.drain !== undefined) info.drain = { ...info.drain };
  return info;
}

/** A failed `waitHealthy` outcome with the last check and the log tail attached. */
export function failure(
  slot: Slot,
  reason: 'exited' | 'timeout' | 'unhealthy' | 'stopped',
  message: string,
): HealthOutcome {
  const outcome: HealthOutcome = {
    ok: false,
    reason,
    message,
    logTail: slot.log.tail(OUTCOME_TAIL_LINES),
    info: snapshot(slot),
  };
  if (slot.info.lastCheck !== undefined) outcome.lastCheck = { ...slot.info.lastCheck };
  return outcome;
}

/** `exited with code 3`, `was killed by SIGKILL`, `could not start: …`. */
export function describeExit(info: SlotInfo): string {
  if (info.state === 'failed' && info.error !== undefined) return info.error;
  if (info.error !== undefined) return `could not start: ${info.error}`;
  return describeStatus(info.exitCode, info.signal);
}

/** `exited with code 3`, `was killed by SIGKILL`, `exited`. */
export function describeStatus(exitCode: number | null | undefined, signal: string | null | undefined): string {
  if (signal) return `was killed by ${signal}`;
  if (exitCode !== undefined && exitCode !== null) return `exited with code ${exitCode}`;
  return 'exited';
}

/** `slot shop/green (1.2.0)`, the subject of every outcome message. */
export function label(slot: Slot): string {
  return `slot ${slot.key} (${slot.spec.version})`;
}

/** The map key of an instance/colour. */
export function slotKey(instance: string, color: Color): string {
  return `${instance}/${color}`;
}

/** Keeps instance names and versions from escaping the log directory (`../x`, `a/b`). */
export function safeName(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._+-]/g, '_');
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}
