import { readFile, rename, rm, writeFile } from 'node:fs/promises';

/** What `<dataDir>/agent/private/agent.pid` holds: which process is the current agent of this data directory. */
export interface AgentPidRecord {
  pid: number;
  /** Wall-clock start of the agent (ms). */
  startedAt: number;
  /**
   * The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), on Linux.
   * Pids are reused: a successor signals the pid only while this still matches, so a stale file
   * never makes it signal a stranger (SIGUSR2's default action would kill it).
   */
  bootTicks?: string;
  /** The ports it serves (router, control API), so `cutover up` can tell whether it may reuse it. */
  routerPort?: number;
  controlPort?: number;
}

/** Field 22 of `/proc/<pid>/stat` and the state letter, or undefined where `/proc` cannot be read. */
async function procStat(pid: number | 'self'): Promise<{ state: string; bootTicks: string } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', bootTicks: fields[19] ?? '' };
}

/** Writes this process's record atomically (temp file, then rename): a reader sees the old file or the new one. */
export async function writeAgentPid(file: string, ports: { routerPort?: number; controlPort?: number } = {}): Promise<AgentPidRecord> {
  const own = await procStat('self');
  const record: AgentPidRecord = {
    pid: process.pid,
    startedAt: Math.round(performance.timeOrigin),
    ...(own ? { bootTicks: own.bootTicks } : {}),
    ...ports,
  };
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(temp, file);
  return record;
}

/** The record in the file; undefined when there is none or it is not one. */
export async function readAgentPid(file: string): Promise<AgentPidRecord | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<AgentPidRecord>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.startedAt !== 'number') return undefined;
    const port = (n: unknown) => Number.isInteger(n) && (n as number) > 0 && (n as number) < 65536;
    return {
      pid: v.pid!,
      startedAt: v.startedAt,
      ...(typeof v.bootTicks === 'string' ? { bootTicks: v.bootTicks } : {}),
      ...(port(v.routerPort) ? { routerPort: v.routerPort! } : {}),
      ...(port(v.controlPort) ? { controlPort: v.controlPort! } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Removes the file only if it still names this process (a successor may have written its own). */
export async function removeOwnAgentPid(file: string): Promise<void> {
  if ((await readAgentPid(file))?.pid === process.pid) await rm(file, { force: true });
}

/** The live agent `<dataDir>/agent/private/agent.pid` names (not this process), or undefined. */
export async function liveAgent(file: string): Promise<AgentPidRecord | undefined> {
  const found = await readAgentPid(file);
  return found && (await agentAlive(found)) ? found : undefined;
}

/**
 * Whether the process the record names still runs and is that same process: not this one, not a
 * zombie, and (where `/proc` tells) started at the recorded moment.
 */
export async function agentAlive(record: AgentPidRecord): Promise<boolean> {
  if (record.pid === process.pid) return false;
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user; it cannot be an agent we could hand over from.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await procStat(record.pid);
  if (stat === undefined) return process.platform !== 'linux';
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return record.bootTicks === undefined || record.bootTicks === stat.bootTicks;
}

/** Polls until the process is gone or `timeoutMs` passes; calls `onWait` with the elapsed time about every `reportEveryMs`. */
export async function waitAgentGone(
  record: AgentPidRecord,
  timeoutMs: number,
  onWait: (elapsedMs: number) => void,
  reportEveryMs = 5000,
): Promise<boolean> {
  const start = performance.now();
  let reported = 0;
  for (;;) {
    if (!(await agentAlive(record))) return true;
    const elapsed = performance.now() - start;
    if (elapsed >= timeoutMs) return false;
    if (elapsed - reported >= reportEveryMs) {
      reported = elapsed;
      onWait(elapsed);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
