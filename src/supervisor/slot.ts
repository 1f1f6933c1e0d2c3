import type { ChildProcess } from 'node:child_process';
import type { Color } from '../shared/index.ts';
import type { HealthCounters } from './health-probe.ts';
import type { SlotLog } from './slot-log.ts';
import type { HealthOutcome, SlotInfo, SlotSpec } from './types.ts';

/** Lines of output attached to a failed `waitHealthy` outcome. */
const OUTCOME_TAIL_LINES = 20;

/** The supervisor's record of one slot: the public info plus the process and health-check bookkeeping. */
export interface Slot {
  key: string;
  spec: SlotSpec;
  info: SlotInfo;
  log: SlotLog;
  child: ChildProcess | undefined;
  counters: HealthCounters;
  checking: boolean;
  checkTimer: NodeJS.Timeout | undefined;
  drainTimer: NodeJS.Timeout | undefined;
  /** The group leader is gone (or never started). */
  exited: boolean;
  /** Every holder of the stdout/stderr pipes is gone. */
  closed: boolean;
  whenClosed: Promise<void>;
  markClosed: () => void;
  /** The exit has been reported (state `exited`, or left to `stop` when stopping). */
  settled: boolean;
  stopping: Promise<SlotInfo> | undefined;
  waiters: Set<() => void>;
}

/** A fresh record in state `starting`; the spec is copied so later edits by the caller change nothing. */
export function newSlot(key: string, spec: SlotSpec, port: number, log: SlotLog, now: number): Slot {
  let markClosed = (): void => undefined;
  const whenClosed = new Promise<void>((resolve) => (markClosed = resolve));
  const slot: Slot = {
    key,
    spec: { ...spec, env: { ...spec.env }, health: { ...spec.health } },
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
    child: undefined,
    counters: { successes: 0, failures: 0 },
    checking: false,
    checkTimer: undefined,
    drainTimer: undefined,
    exited: false,
    closed: false,
    whenClosed,
    markClosed: () => {
      slot.closed = true;
      markClosed();
    },
    settled: false,
    stopping: undefined,
    waiters: new Set(),
  };
  return slot;
}

/** A copy of the slot's info that callers may keep or mutate. */
export function snapshot(slot: Slot): SlotInfo {
  const info = { ...slot.info };
  if (info.lastCheck !== undefined) info.lastCheck = { ...info.lastCheck };
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
  if (info.error !== undefined) return `could not start: ${info.error}`;
  if (info.signal) return `was killed by ${info.signal}`;
  if (info.exitCode !== undefined && info.exitCode !== null) return `exited with code ${info.exitCode}`;
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
