import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
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
    await extractFully(tgzFile, {
      cwd: tmp,
      // Strict turns tar's "skipped an unsafe entry" warning into a failure: a half-extracted
      // artifact must never be started.
      strict: true,
      preserveOwner: false,
    });
  } catch (err) {
    // The extract has settled (no write is still in flight), so the cleanup cannot race it; a
    // cleanup failure is logged nowhere else, so it joins the message, and the original error stays the cause.
    const leftover = await rm(tmp, { recursive: true, force: true, maxRetries: 3 }).then(
      () => '',
      (rmErr: Error) => `; the temporary directory ${tmp} could not be removed (${rmErr.message})`,
    );
    if (err instanceof CutoverError) throw err;
    throw new CutoverError('ARTIFACT_INVALID', `Could not unpack artifact ${tgzFile}: ${(err as Error).message}${leftover}`, { cause: err });
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

/**
 * `tar.extract({ file })` rejects at the first error while the unpacker may still be writing
 * other entries; removing the temp directory then races those writes (`ENOTEMPTY`, or a
 * directory re-created after the removal). This waits for the unpacker to end, or to stay quiet
 * after an error, and rejects with the FIRST error.
 */
function extractFully(file: string, options: tar.TarOptionsWithAliasesAsyncNoFile): Promise<void> {
  return new Promise((resolve, reject) => {
    let firstError: Error | undefined;
    let settled = false;
    let quiet: NodeJS.Timeout | undefined;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      if (firstError) reject(firstError);
      else resolve();
    };
    const unpack = new tar.Unpack(options);
    const fail = (error: Error) => {
      firstError ??= error;
      // An unpacker in error may never emit 'close'; its pending writes finish within moments.
      clearTimeout(quiet);
      quiet = setTimeout(settle, 200);
    };
    unpack.on('error', fail);
    unpack.on('close', settle);
    unpack.on('end', settle);
    const input = createReadStream(file);
    input.on('error', (error) => {
      fail(error);
      unpack.end();
    });
    input.pipe(unpack as unknown as NodeJS.WritableStream);
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
