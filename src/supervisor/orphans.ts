import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { COLORS } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { processIdentityProblems } from './adoption.ts';
import { readPidFileAt, removePidFile } from './pid-file.ts';
import { processAlive, signalGroup, waitGroupGone } from './process-group.ts';

/** What became of one slot process that a pid file names and no one supervises. */
export interface OrphanOutcome {
  instance: string;
  color: Color;
  pid: number;
  port: number;
  version: string;
  /** `stopped`: SIGTERM sufficed; `killed`: SIGKILL after the grace; `gone`: already dead (stale pid file); `left`: not ours to signal (reused pid). */
  outcome: 'stopped' | 'killed' | 'gone' | 'left';
  problems?: string[];
}

/**
 * Stops the slot processes that pid files under `logDir` name and that `claimed` does not: a
 * previous agent left them running (a `kill -9`, or a handover) and no state entry took them
 * over (a corrupt entry skipped at load, state files reset, or adoption refused). Left alone they
 * would hold their port and run unmanaged forever. A pid whose process is no longer the slot
 * it was (reused pid, checked through `/proc`) is never signalled; its stale pid file is removed.
 * Each process group gets SIGTERM, then SIGKILL after `graceMs`.
 */
export async function stopOrphanSlots(
  logDir: string,
  claimed: (instance: string, color: Color) => boolean,
  graceMs = 10_000,
): Promise<OrphanOutcome[]> {
  const dirs = await readdir(logDir, { withFileTypes: true }).catch(() => []);
  const found = await Promise.all(
    dirs
      .filter((d) => d.isDirectory())
      .flatMap((d) => COLORS.map(async (color) => ({ file: join(logDir, d.name, `${color}.pid`), info: await readPidFileAt(join(logDir, d.name, `${color}.pid`)) }))),
  );
  const outcomes = await Promise.all(
    found.map(async ({ file, info }): Promise<OrphanOutcome | undefined> => {
      if (!info || claimed(info.instance, info.color)) return undefined;
      const base = { instance: info.instance, color: info.color, pid: info.pid, port: info.port, version: info.version };
      if (!(await processAlive(info.pid))) {
        await removePidFile(file);
        return { ...base, outcome: 'gone' };
      }
      const problems = await processIdentityProblems(info);
      if (problems.length > 0) {
        await removePidFile(file);
        return { ...base, outcome: 'left', problems };
      }
      signalGroup(info.pgid, 'SIGTERM');
      let outcome: OrphanOutcome['outcome'] = 'stopped';
      if (!(await waitGroupGone(info.pgid, graceMs))) {
        signalGroup(info.pgid, 'SIGKILL');
        await waitGroupGone(info.pgid, 5_000);
        outcome = 'killed';
      }
      await removePidFile(file);
      return { ...base, outcome };
    }),
  );
  return outcomes.filter((o) => o !== undefined);
}
