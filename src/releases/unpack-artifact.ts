import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { CutoverError } from '../shared/index.ts';

/**
 * Extracts `tgzFile` to `destDir` atomically: into a temporary sibling first, then renamed,
 * so `destDir` either does not exist or holds the whole artifact. If `destDir` already exists
 * (an earlier or concurrent unpack finished), nothing happens. Entries that would land outside
 * the directory (absolute paths, `..`, writes through symlinks) fail the whole unpack.
 */
export async function unpackArtifact(tgzFile: string, destDir: string): Promise<void> {
  const dest = path.resolve(destDir);
  if (await exists(dest)) return;
  if (!(await exists(tgzFile))) throw new CutoverError('ARTIFACT_NOT_FOUND', `Artifact file not found: ${tgzFile}`);
  const parent = path.dirname(dest);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dest)}.tmp-${randomUUID()}`);
  try {
    await mkdir(tmp);
    await tar.extract({
      file: tgzFile,
      cwd: tmp,
      // Strict turns tar's "skipped an unsafe entry" warning into a failure: a half-extracted
      // artifact must never be started.
      strict: true,
      preserveOwner: false,
    });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new CutoverError('ARTIFACT_INVALID', `Could not unpack artifact ${tgzFile}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // A concurrent unpack of the same artifact got there first; its result is just as good.
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(dest))) return;
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
