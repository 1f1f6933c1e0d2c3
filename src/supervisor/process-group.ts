import { readdir, readFile } from 'node:fs/promises';

/** Signals the whole process group; `false` when it no longer exists (ESRCH) or cannot be signalled. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolves `true` if `promise` settles within `ms`, `false` otherwise; the timer never outlives the call. */
export async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `(state, pgrp)` from `/proc/<pid>/stat`, or undefined when the process is gone (or not Linux). */
async function procStat(pid: number): Promise<{ state: string; pgrp: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
}

const DEAD = new Set(['Z', 'X', 'x']);

/**
 * Whether a process runs (a zombie does not). A process the agent did not spawn itself (an
 * adopted slot) is reaped by init, or by nobody in a container whose PID 1 does not reap, so
 * `kill(pid, 0)` alone would call a dead one alive.
 */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  const stat = await procStat(pid);
  return stat === undefined ? false : !DEAD.has(stat.state);
}

/**
 * Whether any member of the process group still runs. `kill(-pgid, 0)` answers first (ESRCH
 * means gone); only when it succeeds is `/proc` scanned, because orphaned members that already
 * exited linger as zombies where PID 1 does not reap them.
 */
export async function groupAlive(pgid: number | undefined): Promise<boolean> {
  if (pgid === undefined || !signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  const entries = await readdir('/proc').catch(() => undefined);
  if (entries === undefined) return true;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await procStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && !DEAD.has(stat.state)) return true;
  }
  return false;
}

/** Polls until no member of the group runs, or `ms` pass. Resolves whether the group is gone. */
export async function waitGroupGone(pgid: number | undefined, ms: number, pollMs = 25): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    // Not unref'd: a stop in progress must finish even when nothing else keeps the loop alive
    // (the members are not our children), and the wait is bounded by `ms`.
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, left)));
  }
}
