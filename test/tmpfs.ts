import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the file system refuses (ENOSPC): the disk is full. */
  fill(): Promise<void>;
  /** Removes the filler: space again. */
  free(): Promise<void>;
}

/**
 * Mounts a small tmpfs for a disk-full test and unmounts it in `after`, even when the test fails.
 * Needs root: under `CI=true` a non-root run fails (CI runs as root and must never skip this);
 * elsewhere it is skipped.
 */
export async function mountTmpfs(t: { after(fn: () => Promise<void>): void; skip(message: string): void }, sizeMiB = 16): Promise<Tmpfs | undefined> {
  const root = process.getuid?.() === 0;
  if (process.env.CI === 'true') assert.ok(root, 'CI runs as root: the disk-full tests mount a tmpfs and must not be skipped');
  if (!root) {
    t.skip('mounting a tmpfs needs root');
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'cutover-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  t.after(async () => {
    // Lazy: a process still holding a file there must not keep the mount (or fail the cleanup).
    await run('umount', ['-l', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const filler = join(dir, 'filler');
  return {
    dir,
    async fill() {
      const h = await open(filler, 'a');
      try {
        for (const size of [1 << 20, 4096, 1]) {
          const chunk = Buffer.alloc(size, 0x66);
          for (;;) {
            try {
              await h.write(chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        await h.close();
      }
    },
    free: () => rm(filler, { force: true }),
  };
}
