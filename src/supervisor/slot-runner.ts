import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Clock } from '../shared/index.ts';
import { loopbackPortFree } from './free-port.ts';
import { applyHealthCheck, describeCheck, probeHealth } from './health-probe.ts';
import { removePidFile, writePidFile } from './pid-file.ts';
import { groupAlive, processAlive, signalGroup, waitGroupGone } from './process-group.ts';
import { planRestart } from './restart-policy.ts';
import { shellCommand } from './shell-command.ts';
import { buildSlotEnv } from './slot-env.ts';
import { describeExit, describeStatus, newProcess, recordCrash, type Slot, type SlotProcess } from './slot.ts';
import type { RestartPolicy, SlotState } from './types.ts';

/** How often an adopted process (not our child: no exit event) is checked for being gone. */
const ADOPTED_EXIT_POLL_MS = 250;
/** After SIGKILL to what is left of a crashed process group, how long to wait before respawning anyway. */
const REMNANT_KILL_WAIT_MS = 1000;

/** What the slot lifecycle needs from the supervisor around it. */
export interface SlotContext {
  clock: Clock;
  baseEnv: Readonly<Record<string, string | undefined>>;
  restart: RestartPolicy | undefined;
  /** Moves the slot to `state` and tells listeners; `false` when it already was in it. */
  setState(slot: Slot, state: SlotState): boolean;
  /** Tells listeners about a change that is not a state transition (a crash while restarting, drain progress). */
  emit(slot: Slot): void;
}

export function stopChecks(slot: Slot): void {
  slot.checking = false;
  clearTimeout(slot.checkTimer);
  slot.checkTimer = undefined;
}

function startChecks(ctx: SlotContext, slot: Slot): void {
  stopChecks(slot);
  slot.counters = { successes: 0, failures: 0 };
  slot.checking = true;
  void runCheck(ctx, slot);
}

/**
 * Probes for the slot's whole life, not just until the first success: thresholds decide
 * `healthy` ⇄ `unhealthy` every time, and each transition reaches `onChange` with the check behind it.
 */
async function runCheck(ctx: SlotContext, slot: Slot): Promise<void> {
  if (!slot.checking) return;
  const { path, timeoutMs, intervalMs } = slot.spec.health;
  const started = performance.now();
  const result = await probeHealth(slot.info.port, path, timeoutMs, ctx.clock);
  if (!slot.checking) return;
  slot.info.lastCheck = result;
  const state = slot.info.state;
  if (state === 'starting' || state === 'healthy' || state === 'unhealthy') {
    const next = applyHealthCheck(state, slot.counters, result.ok, slot.spec.health);
    if (next === 'healthy') {
      slot.info.healthySince = ctx.clock.now();
      slot.everHealthy = true;
      void slot.log.note(`healthy: ${describeCheck(path, result)}`);
      ctx.setState(slot, 'healthy');
    } else if (next === 'unhealthy') {
      delete slot.info.healthySince;
      void slot.log.note(`unhealthy after ${slot.counters.failures} failed checks: ${describeCheck(path, result)}`);
      ctx.setState(slot, 'unhealthy');
    }
  }
  if (!slot.checking) return;
  // Interval measured from probe start, and probes never overlap.
  const delay = Math.max(0, intervalMs - (performance.now() - started));
  slot.checkTimer = setTimeout(() => void runCheck(ctx, slot), delay);
  slot.checkTimer.unref();
}

/**
 * Spawns one process generation. Its stdout and stderr are the log file itself (see `SlotLog`),
 * so the process does not depend on the agent to write its output and can outlive it.
 */
export async function launch(ctx: SlotContext, slot: Slot): Promise<void> {
  const { spec, info, log } = slot;
  const dir = await stat(spec.cwd).catch(() => undefined);
  if (dir === undefined || !dir.isDirectory()) {
    await ended(ctx, slot, undefined, `release directory ${spec.cwd} does not exist or is not a directory`);
    return;
  }
  const restart = info.restarts === undefined ? '' : ` (restart ${info.restarts})`;
  await log.note(`starting ${spec.version} on port ${info.port}${restart}: ${spec.command}`);
  let output;
  try {
    output = await log.openForChild();
  } catch (err) {
    await ended(ctx, slot, undefined, `cannot open the log file ${log.file}: ${errorText(err)}`);
    return;
  }
  let child: ChildProcess | undefined;
  let spawnError: unknown;
  try {
    child = spawn(shellCommand(spec.command), {
      shell: '/bin/sh',
      cwd: spec.cwd,
      env: buildSlotEnv(spec, info.port, ctx.baseEnv),
      detached: true,
      stdio: ['ignore', output.fd, output.fd],
      // libuv calls setgroups(0) before setgid/setuid: no supplementary group of the agent survives.
      ...(spec.user === undefined ? {} : { uid: spec.user.uid, gid: spec.user.gid }),
    });
  } catch (err) {
    spawnError = err;
  }
  // Everything below up to the first await runs before the exit event can: a fast exit (a
  // command not found) is never missed, and the pid file write is known to the removal.
  const proc = child?.pid === undefined ? undefined : newProcess(child.pid, child);
  if (child !== undefined && proc !== undefined) {
    // Errors after a successful spawn come from signalling, which goes through process.kill instead.
    child.on('error', () => undefined);
    slot.proc = proc;
    info.pid = proc.pid;
    info.startedAt = ctx.clock.now();
    delete info.exitCode;
    delete info.signal;
    child.once('exit', (code, signal) => void exited(ctx, slot, proc, code, signal));
    startChecks(ctx, slot);
    slot.pidWrite = writePidFile(slot.pidFile, {
      instance: spec.instance,
      color: spec.color,
      pid: proc.pid,
      pgid: proc.pid,
      port: info.port,
      version: spec.version,
      startedAt: info.startedAt,
      logFile: log.file,
    }).catch(() => undefined);
  } else {
    child?.on('error', () => undefined);
  }
  // The child has its own copy of the descriptor (dup'd during spawn); ours can go.
  await output.close().catch(() => undefined);
  if (proc === undefined) {
    const why = spawnError === undefined ? 'no process was created' : scrubbedSpawnError(spawnError, spec.env);
    await ended(ctx, slot, undefined, `spawn failed: ${why}`);
    return;
  }
  // Awaited, so a started slot can be found by a later agent as soon as `start` resolves.
  await slot.pidWrite;
}

/** Removes the slot's pid file once no process of it runs any more. */
export async function forgetPid(slot: Slot): Promise<void> {
  await slot.pidWrite;
  await removePidFile(slot.pidFile).catch(() => undefined);
}

/** Takes over a running process group another agent started: no exit event, so its end is polled. */
export function attach(ctx: SlotContext, slot: Slot, pid: number): void {
  const proc = newProcess(pid, undefined);
  slot.proc = proc;
  slot.info.pid = pid;
  proc.poll = setInterval(() => {
    void processAlive(pid).then((alive) => {
      if (!alive && !proc.exited) void exited(ctx, slot, proc, null, null);
    });
  }, ADOPTED_EXIT_POLL_MS);
  proc.poll.unref();
  startChecks(ctx, slot);
}

async function exited(
  ctx: SlotContext,
  slot: Slot,
  proc: SlotProcess,
  code: number | null,
  signal: NodeJS.Signals | null,
): Promise<void> {
  clearInterval(proc.poll);
  proc.markExited();
  if (slot.proc !== proc) return;
  stopChecks(slot);
  slot.info.exitCode = code;
  slot.info.signal = signal;
  if (slot.stopping !== undefined) return;
  // Everything the process printed up to its end is in the tail before anyone is told.
  await slot.log.catchUp();
  if (slot.stopping !== undefined) return;
  await ended(ctx, slot, proc, undefined);
}

/** A process generation ended on its own (or never started): a crash to restart, or the slot's end. */
async function ended(ctx: SlotContext, slot: Slot, proc: SlotProcess | undefined, error: string | undefined): Promise<void> {
  if (ctx.restart !== undefined && slot.everHealthy) {
    await crashed(ctx, ctx.restart, slot, proc, error);
    return;
  }
  stopChecks(slot);
  if (error !== undefined) {
    slot.info.error = error;
    slot.info.exitCode = null;
    slot.info.signal = null;
  }
  await slot.log.note(describeExit(slot.info));
  await slot.log.close();
  await forgetPid(slot);
  if (slot.stopping === undefined) ctx.setState(slot, 'exited');
}

/**
 * Records a crash and either schedules the restart (state `restarting`) or gives the slot up
 * (`failed`) once it crashed `maxCrashes` times within the window. What is left of the old
 * process group gets SIGTERM now and SIGKILL before the respawn: a crashed app's workers must not
 * keep the port, nor run twice.
 */
async function crashed(
  ctx: SlotContext,
  policy: RestartPolicy,
  slot: Slot,
  proc: SlotProcess | undefined,
  error: string | undefined,
): Promise<void> {
  const { info } = slot;
  const now = ctx.clock.now();
  const stableSince = info.state === 'healthy' ? info.healthySince : undefined;
  const decision = planRestart(slot.crashes, now, stableSince, policy);
  delete info.healthySince;
  const exitCode = error === undefined ? (info.exitCode ?? null) : null;
  const signal = error === undefined ? (info.signal ?? null) : null;
  const what = error ?? `${describeStatus(exitCode, signal)}`;
  const event = { at: now, exitCode, signal, attempt: decision.attempt, ...(error === undefined ? {} : { error }) };
  if (proc !== undefined) signalGroup(proc.pid, 'SIGTERM');
  if (!decision.restart) {
    recordCrash(slot, event);
    info.error = `crashed ${decision.crashesInWindow} times within ${formatMs(policy.windowMs)} (last: ${what}); not restarted again`;
    await slot.log.note(`${what}; ${info.error}`);
    if (proc !== undefined && (await groupAlive(proc.pid))) signalGroup(proc.pid, 'SIGKILL');
    await slot.log.close();
    await forgetPid(slot);
    if (slot.stopping === undefined) ctx.setState(slot, 'failed');
    return;
  }
  const nextRestartAt = now + decision.delayMs;
  recordCrash(slot, { ...event, nextRestartAt });
  if (!ctx.setState(slot, 'restarting')) ctx.emit(slot);
  void slot.log.note(
    `${what}; restarting in ${decision.delayMs}ms (attempt ${decision.attempt}, ` +
      `${slot.crashes.times.length} of ${policy.maxCrashes} crashes allowed within ${formatMs(policy.windowMs)})`,
  );
  slot.restartTimer = setTimeout(() => void respawn(ctx, slot), decision.delayMs);
  slot.restartTimer.unref();
}

/** Starts the slot again in place: same spec, same port (the router still points there). */
async function respawn(ctx: SlotContext, slot: Slot): Promise<void> {
  slot.restartTimer = undefined;
  if (slot.stopping !== undefined) return;
  const old = slot.proc;
  if (old !== undefined && (await groupAlive(old.pid))) {
    signalGroup(old.pid, 'SIGKILL');
    await waitGroupGone(old.pid, REMNANT_KILL_WAIT_MS);
  }
  if (slot.stopping !== undefined) return;
  const port = slot.info.port;
  if (!(await loopbackPortFree(port))) {
    if (slot.stopping !== undefined) return;
    await crashed(
      ctx,
      ctx.restart as RestartPolicy,
      slot,
      undefined,
      `port ${port} is in use by another process, and the router sends this slot's traffic to that port: free it`,
    );
    return;
  }
  if (slot.stopping !== undefined) return;
  slot.info.restarts = (slot.info.restarts ?? 0) + 1;
  ctx.setState(slot, 'starting');
  slot.launching = launch(ctx, slot);
  try {
    await slot.launching;
  } finally {
    slot.launching = undefined;
  }
}

/** `300000ms` → `5m`, `1500ms` → `1500ms`: windows read naturally in notes. */
function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A spawn error without the environment's values: Node quotes the offending value
 * (`… must be a string without null bytes. Received 'x\x00y'`), and this text reaches the slot
 * state, the server's deployment record and the audit log. The quoted part is cut and any env
 * value still present is masked.
 */
export function scrubbedSpawnError(err: unknown, env: Record<string, string>): string {
  let text = errorText(err).replace(/\.?\s*Received\b[\s\S]*$/, '');
  for (const value of Object.values(env)) {
    if (typeof value === 'string' && value.length >= 4) text = text.split(value).join('***');
  }
  return text;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
