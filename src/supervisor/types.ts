import type { Clock, Color, HealthSpec } from '../shared/index.ts';

/** What to run in one slot: one colour of one instance, on one release version. */
export interface SlotSpec {
  instance: string;
  color: Color;
  version: string;
  /** The unpacked release directory; the process starts here. */
  cwd: string;
  /** Shell command line run by `/bin/sh -c`, e.g. `node server.js`. */
  command: string;
  /** Release and instance config, merged over a minimal inherited environment. */
  env: Record<string, string>;
  health: HealthSpec;
  /** Grace after SIGTERM before the process group gets SIGKILL. */
  stopTimeoutMs: number;
  /** Port to hand the app; when absent a free loopback port is allocated. */
  port?: number;
}

/**
 * A slot's lifecycle: `starting` until the first `healthyThreshold` successes, then
 * `healthy` ⇄ `unhealthy`; `exited` when the process ends on its own; `stopping` → `stopped`
 * when the supervisor stops it.
 */
export type SlotState = 'starting' | 'healthy' | 'unhealthy' | 'exited' | 'stopping' | 'stopped';

/** One health probe. `status` is set when the app answered; `error` when it did not (or answered 4xx/5xx). */
export interface HealthCheckResult {
  ok: boolean;
  /** Wall-clock time the probe started. */
  at: number;
  durationMs: number;
  status?: number;
  error?: string;
}

/** A snapshot of one slot. Objects handed out are copies: mutating them changes nothing. */
export interface SlotInfo {
  instance: string;
  color: Color;
  version: string;
  pid: number | undefined;
  port: number;
  state: SlotState;
  startedAt: number;
  healthySince?: number;
  exitCode?: number | null;
  signal?: string | null;
  lastCheck?: HealthCheckResult;
  /** Why the process could not be started at all (missing directory, spawn failure). */
  error?: string;
  logFile: string;
}

/** How `waitHealthy` ended. A failure is a returned value, not a throw: the deployer must handle it. */
export type HealthOutcome =
  | { ok: true; info: SlotInfo }
  | {
      ok: false;
      reason: 'exited' | 'timeout' | 'unhealthy' | 'stopped';
      /** Says what went wrong in words an operator can act on. */
      message: string;
      lastCheck?: HealthCheckResult;
      /** The last ~20 lines of the slot's output, to show why it failed. */
      logTail: string[];
      info: SlotInfo;
    };

/** Options of {@link createSupervisor}. */
export interface SupervisorOptions {
  /** Slot logs go to `<logDir>/<instance>/<color>-<version>.log`. */
  logDir: string;
  /** Timestamps (startedAt, healthySince, log lines). Defaults to the system clock. */
  clock?: Clock;
  /** Lines of output kept in memory per slot. Default 200. */
  tailLines?: number;
  /**
   * Where PATH, HOME, LANG, TZ, USER and SHELL are taken from. Defaults to `process.env`;
   * nothing else in it ever reaches a slot (the agent's environment may hold tokens).
   */
  baseEnv?: Readonly<Record<string, string | undefined>>;
}

/** Starts, health-checks and stops slot processes and captures their output. */
export interface Supervisor {
  /** Spawns the slot's process. Throws `SLOT_BUSY` if that instance/colour already has a live process. */
  start(spec: SlotSpec): Promise<SlotInfo>;
  /** Resolves as soon as the slot is healthy, or with the reason it will not be. Throws `SLOT_NOT_FOUND`. */
  waitHealthy(instance: string, color: Color, timeoutMs: number): Promise<HealthOutcome>;
  /** SIGTERM to the process group, SIGKILL after the grace. Idempotent; `undefined` for an unknown slot. */
  stop(instance: string, color: Color, options?: { timeoutMs?: number }): Promise<SlotInfo | undefined>;
  get(instance: string, color: Color): SlotInfo | undefined;
  list(): SlotInfo[];
  /** The last `lines` (default all kept) output lines, formatted as in the log file. Kept after exit. */
  tail(instance: string, color: Color, lines?: number): string[];
  /** Delivers each new output line of that instance/colour, across restarts. Returns the unsubscribe. */
  follow(instance: string, color: Color, onLine: (line: string) => void): () => void;
  /** Called on every state transition with a snapshot. Returns the unsubscribe. */
  onChange(listener: (info: SlotInfo) => void): () => void;
  /** Stops every slot in parallel. */
  stopAll(): Promise<void>;
}
