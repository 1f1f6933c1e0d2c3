import { rename, stat } from 'node:fs/promises';
import type { Logger } from './logger.ts';

/**
 * What {@link moveIntoPlace} did: `moved`; `absent` (nothing at `from`); `kept` (both exist: the
 * file at `to` is the one in use, `from` is left as it was for the caller to decide).
 */
export type MoveOutcome = 'moved' | 'absent' | 'kept';

/**
 * Moves a file of an earlier data-directory layout to its new place (a rename: same directory
 * tree, same inode, so a process that still has it open keeps writing the same file), unless the
 * new one exists. Safe against another process doing the same at the same moment: the loser's
 * rename finds nothing at `from`. The caller must not create `to` before calling this, or a
 * rename could replace a fresh file with an old one. Logged as a warning (`up` shows warnings).
 */
export async function moveIntoPlace(from: string, to: string, log: Logger): Promise<MoveOutcome> {
  if (!(await exists(from))) return 'absent';
  if (await exists(to)) return 'kept';
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'; // another process moved it first
    throw error;
  }
  log.warn({ from, to }, 'moved a data-directory file to its new place');
  return 'moved';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
