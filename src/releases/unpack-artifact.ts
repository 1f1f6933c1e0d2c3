import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { CutoverError } from '../shared/index.ts';

/** Options of {@link unpackArtifact}. */
export interface UnpackOptions {
  /**
   * Hands the unpacked tree to one group, read-only: every entry is chowned to this process's
   * uid and `group` (the agent runs as root, so root owns the files and the slot's group may only
   * read them); directories become 0750, files 0640, executables 0750. Without it the modes are
   * the archive's (minus setuid, setgid and sticky bits, which are always cleared).
   */
  group?: number;
}

/**
 * Extracts `tgzFile` to `destDir` atomically: into a temporary sibling first, then renamed,
 * so `destDir` either does not exist or holds the whole artifact. If `destDir` already exists
 * (an earlier or concurrent unpack finished), nothing happens. Entries that would land outside
 * the directory (absolute paths, `..`, writes through symlinks) fail the whole unpack. Modes are
 * masked to 0777: a deployer's tarball must not plant a setuid program on an agent running as root.
 */
export async function unpackArtifact(tgzFile: string, destDir: string, options: UnpackOptions = {}): Promise<void> {
  const dest = path.resolve(destDir);
  if (await exists(dest)) return;
  if (!(await exists(tgzFile))) throw new CutoverError('ARTIFACT_NOT_FOUND', `Artifact file not found: ${tgzFile}`);
  const parent = path.dirname(dest);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dest)}.tmp-${randomUUID()}`);
  try {
    // 0700 while it is being written: nobody else sees a half-extracted tree.
    await mkdir(tmp, { mode: 0o700 });
    await extractFully(tgzFile, {
      cwd: tmp,
      // Strict turns tar's "skipped an unsafe entry" warning into a failure: a half-extracted
      // artifact must never be started.
      strict: true,
      preserveOwner: false,
      // Runs before each entry is written: the setuid/setgid/sticky bits never reach the disk.
      filter: (_path, entry) => {
        if ('mode' in entry && typeof entry.mode === 'number') entry.mode &= 0o777;
        return true;
      },
    });
    if (options.group !== undefined) await handTo(tmp, options.group);
    else await chmod(tmp, 0o755);
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

/** The mode an entry gets when the tree is handed to a group: read-only for it, executables kept. */
function groupMode(kind: 'dir' | 'file', mode: number): number {
  if (kind === 'dir') return 0o750;
  return (mode & 0o111) !== 0 ? 0o750 : 0o640;
}

/**
 * Chowns and chmods the tree at `root` (which nobody else can reach yet). `lstat`/`lchown`, and
 * symlinks are never followed: a link in an archive may point anywhere, and root must not change
 * what it points at. A link's own mode means nothing on Linux.
 */
async function handTo(root: string, group: number): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const entry = path.join(dir, name);
      const st = await lstat(entry);
      if (st.isSymbolicLink()) {
        await lchown(entry, uid, group);
        continue;
      }
      if (st.isDirectory()) await walk(entry);
      else if (!st.isFile()) throw new Error(`${path.relative(root, entry)} is neither a file, a directory nor a symlink`);
      await lchown(entry, uid, group);
      await chmod(entry, groupMode(st.isDirectory() ? 'dir' : 'file', st.mode));
    }
  };
  await walk(root);
  await lchown(root, uid, group);
  await chmod(root, 0o750);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
