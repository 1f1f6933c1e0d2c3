import type { Clock, Color, HealthSpec } from '../shared/index.ts';
import type { SlotUser } from './slot-user.ts';

/**
 * The app's own "how much work is left" endpoint, polled while the slot stops (see
 * {@link Supervisor.stop}). `GET 127.0.0.1:<port><path>` answers JSON like
 * `{"pending": 3, "message": "3 jobs still running"}`; a 204, or a 2xx with `pending: 0`, means done.
 */
export interface DrainSpec {
  /** HTTP path polled with GET, e.g. `/drain`. */
  path: string;
  /** Between the starts of two polls. Default 1000. */
  intervalMs?: number;
  /** One poll's timeout. Default 2000. */
  timeoutMs?: number;
}

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
  /** The app's drain endpoint, polled during the stop grace to show its progress. */
  drain?: DrainSpec;
  /**
   * The uid/gid the process runs as (the supervisor must then run as root). Absent: the
   * supervisor's own user. Node's spawn drops supplementary groups when it sets them.
   */
  user?: SlotUser;
  /** The instance's writable directory kept across releases: given as `CUTOVER_STATE_DIR` and `HOME`. */
  stateDir?: string;
}

/**
 * A slot's lifecycle: `starting` until the first `healthyThreshold` successes, then
 * `healthy` ⇄ `unhealthy` (thresholds apply for the slot's whole life). A process that ends on
 * its own before it was ever healthy leaves the slot `exited` (a failed start, not restarted).
 * Once the slot has been healthy, an unexpected exit makes it `restarting` (waiting out the
 * backoff), then `starting` again on the same port; too many crashes in the window make it
 * `failed`, and it is not restarted again. `stopping` → `stopped` when the supervisor stops it.
 */
export type SlotState =
  | 'starting'
  | 'healthy'
  | 'unhealthy'
  | 'restarting'
  | 'exited'
  | 'failed'
  | 'stopping'
  | 'stopped';

/** One health probe. `status` is set when the app answered; `error` when it did not (or answered 4xx/5xx). */
export interface HealthCheckResult {
  ok: boolean;
  /** Wall-clock time the probe started. */
  at: number;
  durationMs: number;
  status?: number;
  error?: string;
}

/**
 * One unexpected end of a slot's process (or one restart that could not happen, with `error`).
 * `nextRestartAt` is absent when the slot was given up on (`failed`).
 */
export interface CrashEvent {
  at: number;
  exitCode: number | null;
  signal: string | null;
  /** The restart attempt this crash leads to (1 for the first crash since the slot was last stable). */
  attempt: number;
  nextRestartAt?: number;
  /** Set when the restart itself failed, e.g. the port is taken by another process. */
  error?: string;
}

/** What the app's drain endpoint said last. */
export interface DrainStatus {
  at: number;
  /** The app reported nothing pending (204, or `pending: 0`). */
  done: boolean;
  pending?: number;
  message?: string;
  status?: number;
  /** Why the poll failed (refused, timeout, non-2xx, unreadable body). */
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
  /** When the current process was spawned (a restart sets it anew). */
  startedAt: number;
  healthySince?: number;
  exitCode?: number | null;
  signal?: string | null;
  lastCheck?: HealthCheckResult;
  /** Why the process could not be started at all (missing directory, spawn failure), or why a `failed` slot was given up on. */
  error?: string;
  logFile: string;
  /** Processes restarted in place after a crash, over the slot's life. */
  restarts?: number;
  /** The last crash events (at most 20), oldest first. */
  crashes?: CrashEvent[];
  /** The drain endpoint's last answer while stopping. */
  drain?: DrainStatus;
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

/** Crash-restart rules. Delays double from `initialDelayMs` up to `maxDelayMs`. */
export interface RestartPolicy {
  /** Delay before the first restart. Default 250. */
  initialDelayMs: number;
  /** Cap of the doubling delay. Default 30 000. */
  maxDelayMs: number;
  /** Healthy this long without a crash and the delay starts over from `initialDelayMs`. Default 60 000. */
  resetAfterMs: number;
  /** This many crashes within `windowMs` and the slot is `failed`. Default 5. */
  maxCrashes: number;
  /** Default 300 000 (5 minutes). */
  windowMs: number;
}

/** A stop's progress, for showing it while a long grace runs. */
export interface StopProgress {
  instance: string;
  color: Color;
  /**
   * `sigterm`: SIGTERM sent, grace running; `draining`: the drain endpoint answered (see `drain`);
   * `sigkill`: the grace ran out; `stopped`: the group is gone.
   */
  phase: 'sigterm' | 'draining' | 'sigkill' | 'stopped';
  /** Since SIGTERM. */
  elapsedMs: number;
  graceMs: number;
  drain?: DrainStatus;
}

/** Options of {@link Supervisor.stop}. */
export interface StopOptions {
  /** Overrides the spec's `stopTimeoutMs`. */
  timeoutMs?: number;
  /** Called at each phase and each drain poll. Errors thrown by it are ignored. */
  onProgress?: (progress: StopProgress) => void;
}

/**
 * What a slot's pid file (`<logDir>/<instance>/<color>.pid`) holds, so a later agent can find
 * the process group and adopt it.
 */
export interface PidInfo {
  instance: string;
  color: Color;
  pid: number;
  /** The process group: slots run detached, so it equals `pid`. */
  pgid: number;
  port: number;
  version: string;
  startedAt: number;
  logFile: string;
}

/** Options of {@link createSupervisor}. */
export interface SupervisorOptions {
  /** Slot logs go to `<logDir>/<instance>/<color>-<version>.log`, pid files to `<logDir>/<instance>/<color>.pid`. */
  logDir: string;
  /** Timestamps (startedAt, healthySince, supervisor log lines, crash windows). Defaults to the system clock. */
  clock?: Clock;
  /** Lines of output kept in memory per slot. Default 200. */
  tailLines?: number;
  /**
   * Where PATH, HOME, LANG, TZ, USER and SHELL are taken from. Defaults to `process.env`;
   * nothing else in it ever reaches a slot (the agent's environment may hold tokens).
   */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * The slots' `PATH`, from the agent's settings (`slotPath`): which `node` or `python` an app's
   * `start` finds must not depend on the shell that started the agent. Default: `baseEnv`'s PATH.
   */
  path?: string;
  /** Crash-restart rules (partial: the rest are defaults), or `false` to leave crashed slots `exited`. */
  restart?: Partial<RestartPolicy> | false;
  /** Rotate slot log files past a size (copy, then truncate), keeping some older files; default: never. */
  logRotation?: { maxBytes: number; files: number };
  /** Longest delay before new output in a log file reaches the tail and followers. Default 250. */
  logPollMs?: number;
}

/** Starts, health-checks, restarts and stops slot processes and captures their output. */
export interface Supervisor {
  /** Spawns the slot's process. Throws `SLOT_BUSY` if that instance/colour already has a live process. */
  start(spec: SlotSpec): Promise<SlotInfo>;
  /**
   * Takes over a slot process started by an earlier agent (found through its pid file): health
   * checks, log tail and stop by process group. A crash of an adopted process is restarted from
   * `spec` like any other. Resolves with the slot `exited` when that process is already gone.
   * Throws `SLOT_BUSY` as `start` does, `VALIDATION_FAILED` if the pid info does not match the spec.
   */
  adopt(spec: SlotSpec, pidInfo: PidInfo): Promise<SlotInfo>;
  /** Resolves as soon as the slot is healthy, or with the reason it will not be. Throws `SLOT_NOT_FOUND`. */
  waitHealthy(instance: string, color: Color, timeoutMs: number): Promise<HealthOutcome>;
  /**
   * SIGTERM to the process group (polling the drain endpoint, if any, during the grace), SIGKILL
   * after the grace. Idempotent; `undefined` for an unknown slot.
   */
  stop(instance: string, color: Color, options?: StopOptions): Promise<SlotInfo | undefined>;
  get(instance: string, color: Color): SlotInfo | undefined;
  list(): SlotInfo[];
  /** The last `lines` (default all kept) lines of the slot's log file. Kept after exit. */
  tail(instance: string, color: Color, lines?: number): string[];
  /** Delivers each new line of that instance/colour's log, across restarts. Returns the unsubscribe. */
  follow(instance: string, color: Color, onLine: (line: string) => void): () => void;
  /**
   * Called with a snapshot on every state transition (including `restarting` with the crash in
   * `crashes`, and `healthy` ⇄ `unhealthy` with the `lastCheck` behind it), and on each change of
   * the drain status while stopping. Returns the unsubscribe.
   */
  onChange(listener: (info: SlotInfo) => void): () => void;
  /** Stops every slot in parallel. */
  stopAll(): Promise<void>;
  /** Runs a release's test to its end with the slots' minimal environment (see `runTestProcess`). Never throws for a failing test. */
  runTest(spec: TestProcessSpec): Promise<TestProcessResult>;
  /**
   * Stops supervising every slot WITHOUT stopping its process: health checks, restarts and log
   * tails end, processes and pid files stay for another agent to `adopt` (agent handover). The
   * supervisor holds nothing afterwards, so it no longer keeps the event loop alive.
   */
  releaseAll(): Promise<void>;
}

/** One test process as the supervisor runs it: like a slot (own group, minimal env, the slot's user), but to its end. */
export interface TestProcessSpec {
  command: string;
  /** The release copy it runs in. */
  cwd: string;
  /** Exactly the variables the test gets on top of the slots' minimal inherited ones. */
  env: Record<string, string>;
  /** The instance's slot user; absent: the agent's own. */
  user?: SlotUser;
  /** `HOME` of the test: the instance's state directory, as for its slots. */
  home?: string;
  timeoutMs: number;
  /** Values replaced by `<masked>` in the output kept (the instance's secret values, the preview token). */
  secrets: string[];
  /** Aborting kills the test's process group (a deployment aborted during its test). */
  signal?: AbortSignal;
}

export interface TestProcessResult {
  /** Exit code, or null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** The last 64 KiB (`TEST_OUTPUT_BYTES`) of stdout and stderr together, secrets masked. */
  output: string;
  /** How many bytes the test wrote in all. */
  outputBytes: number;
  /** SHA-256 (hex) of `output`, as kept: the audit log holds this, never the text. */
  sha256: string;
  /** Why it could not start (no such directory…), when it did not. */
  error?: string;
}
