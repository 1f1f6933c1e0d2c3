import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { CutoverError } from '../shared/index.ts';
import { DEFAULT_MAX_ARTIFACT_BYTES } from './artifact-limits.ts';

/** A packed artifact ready to upload. */
export interface PackedArtifact {
  /** `sha256:<hex>` of the .tgz bytes. */
  digest: string;
  size: number;
  /** The .tgz file to upload. */
  file: string;
  /** True when `file` was created by packing and the caller should delete it after use. */
  temporary: boolean;
}

/**
 * Turns an artifact path into a .tgz and its digest.
 *
 * A directory is packed deterministically: entries sorted by name, portable headers without
 * owners or mtimes, modes normalised to 0755 (directories and anything executable) or 0644, and
 * hard links stored as plain files. So the same content gives the same digest wherever and
 * whenever it is packed (with the same tar and zlib versions). A `.tgz`/`.tar.gz` file is used
 * as is, after checking that it is a readable archive with no entry escaping its root.
 */
export async function packArtifact(artifactPath: string, tmpDir?: string, maxBytes = DEFAULT_MAX_ARTIFACT_BYTES): Promise<PackedArtifact> {
  const abs = path.resolve(artifactPath);
  const info = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new CutoverError('ARTIFACT_NOT_FOUND', `Artifact not found: ${abs}`, { cause: err });
    throw err;
  });
  if (info.isDirectory()) return packDirectory(abs, tmpDir ?? os.tmpdir(), maxBytes);
  if (info.isFile() && /\.(tgz|tar\.gz)$/.test(abs)) {
    if (info.size > maxBytes) throw tooLarge(abs, maxBytes);
    await checkTarball(abs);
    return { ...(await hashFile(abs)), file: abs, temporary: false };
  }
  throw new CutoverError('ARTIFACT_INVALID', `Artifact must be a directory or a .tgz/.tar.gz file: ${abs}`);
}

// Hard links would otherwise be stored as links to whichever name tar met first, so two
// copies of a tree (one hard-linked, one not) would pack differently.
class NoLinkCache extends Map<`${number}:${number}`, string> {
  override set(): this {
    return this;
  }
}

function tooLarge(what: string, maxBytes: number): CutoverError {
  return new CutoverError('ARTIFACT_INVALID', `Artifact ${what} is larger than ${maxBytes} bytes packed, the most a server accepts by default (maxArtifactSize); leave build caches and dependencies the app does not run with out of it`, {
    details: { limit: maxBytes },
  });
}

async function packDirectory(dir: string, tmpDir: string, maxBytes: number): Promise<PackedArtifact> {
  const entries = await listEntries(dir, '');
  if (entries.length === 0) throw new CutoverError('ARTIFACT_INVALID', `Artifact directory is empty: ${dir}`);
  await mkdir(tmpDir, { recursive: true });
  const file = path.join(tmpDir, `cutover-artifact-${randomUUID()}.tgz`);
  const pack = tar.create(
    {
      cwd: dir,
      gzip: true,
      portable: true,
      noMtime: true,
      noDirRecurse: true,
      linkCache: new NoLinkCache(),
      onWriteEntry(entry) {
        const executable = entry.type === 'Directory' || ((entry.stat?.mode ?? 0) & 0o111) !== 0;
        if (entry.stat) entry.stat.mode = executable ? 0o755 : 0o644;
      },
    },
    entries,
  );
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      pack as unknown as AsyncIterable<Buffer>,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          if (size > maxBytes) throw tooLarge(dir, maxBytes);
          yield chunk;
        }
      },
      createWriteStream(file, { flags: 'wx' }),
    );
  } catch (err) {
    await rm(file, { force: true });
    if (err instanceof CutoverError) throw err;
    throw new CutoverError('ARTIFACT_INVALID', `Could not pack ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return { digest: `sha256:${hash.digest('hex')}`, size, file, temporary: true };
}

// Sorted depth-first listing, each directory before its contents. Paths start with "./" so
// a name beginning with "@" is not taken by tar as "add the entries of this archive".
async function listEntries(root: string, rel: string): Promise<string[]> {
  const dirents = await readdir(path.join(root, rel), { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts = await Promise.all(
    dirents.map(async (d) => {
      const p = `${rel === '' ? '.' : rel}/${d.name}`;
      if (d.isDirectory()) return [p, ...(await listEntries(root, p))];
      // Sockets, FIFOs and devices have no place in an artifact.
      return d.isFile() || d.isSymbolicLink() ? [p] : [];
    }),
  );
  return parts.flat();
}

/** sha256 digest and size of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

// Refuse at publish time what the agent would refuse at unpack time, with a clearer message.
async function checkTarball(file: string): Promise<void> {
  let count = 0;
  let unsafe: string | undefined;
  try {
    await tar.list({
      file,
      strict: true,
      onReadEntry(entry) {
        count++;
        const p = entry.path.replaceAll('\\', '/');
        if (unsafe === undefined && (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.split('/').includes('..'))) unsafe = entry.path;
      },
    });
  } catch (err) {
    throw new CutoverError('ARTIFACT_INVALID', `Artifact is not a readable .tgz archive: ${file} (${(err as Error).message})`, { cause: err });
  }
  if (unsafe !== undefined) throw new CutoverError('ARTIFACT_INVALID', `Artifact entry "${unsafe}" points outside the archive root: ${file}`);
  if (count === 0) throw new CutoverError('ARTIFACT_INVALID', `Artifact archive is empty: ${file}`);
}
