import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isColor, type Color } from '../shared/index.ts';
import { safeName } from './slot.ts';
import type { PidInfo } from './types.ts';

/** `<logDir>/<instance>/<color>.pid`: one per slot, whatever version runs in it. */
export function pidFilePath(logDir: string, instance: string, color: Color): string {
  return join(logDir, safeName(instance), `${color}.pid`);
}

/**
 * Writes the pid file atomically (temp file, then rename), so a reader never sees half of it.
 * No fsync: after a machine crash the processes are gone too, and a stale file is checked anyway.
 */
export async function writePidFile(file: string, info: PidInfo): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(info)}\n`, { mode: 0o640 });
  await rename(temp, file);
}

/** Removes the pid file; a missing one is fine. */
export async function removePidFile(file: string): Promise<void> {
  await rm(file, { force: true });
}

/**
 * Reads a slot's pid file: `undefined` when there is none or it is not a pid file (a later agent
 * then starts the slot afresh). The process it names may be gone: the caller checks.
 */
export async function readPidFile(logDir: string, instance: string, color: Color): Promise<PidInfo | undefined> {
  return readPidFileAt(pidFilePath(logDir, instance, color));
}

/** Reads the pid file at `file` (see {@link readPidFile}). */
export async function readPidFileAt(file: string): Promise<PidInfo | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (
    typeof v.instance !== 'string' ||
    !isColor(v.color) ||
    !positive(v.pid) ||
    !positive(v.pgid) ||
    !positive(v.port) ||
    typeof v.version !== 'string' ||
    typeof v.startedAt !== 'number' ||
    typeof v.logFile !== 'string'
  ) {
    return undefined;
  }
  return {
    instance: v.instance,
    color: v.color,
    pid: v.pid,
    pgid: v.pgid,
    port: v.port,
    version: v.version,
    startedAt: v.startedAt,
    logFile: v.logFile,
  };
}
