import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CutoverError } from '../shared/index.ts';
import { isValidDigest } from './release-digest.ts';

/** Content-addressed artifact files, `<dir>/sha256-<hex>.tgz`. */
export interface ArtifactStore {
  dir: string;
  /**
   * Stores `body`, hashing it while it streams to a temporary file that is fsynced and then
   * renamed into place. With `expectedDigest`, a mismatch is `ARTIFACT_INVALID` and nothing is
   * kept. Storing content that is already there is a no-op.
   */
  put(body: NodeJS.ReadableStream | Buffer, expectedDigest?: string): Promise<{ digest: string; size: number }>;
  has(digest: string): Promise<boolean>;
  /** The file for `digest` (which may not exist yet). Throws `ARTIFACT_INVALID` for a malformed digest. */
  path(digest: string): string;
  /** Streams the artifact; the stream fails with `ARTIFACT_NOT_FOUND` if it is not stored. */
  open(digest: string): NodeJS.ReadableStream;
}

/** Creates an artifact store in `dir` (created on first `put`). */
export function createArtifactStore(dir: string): ArtifactStore {
  const root = path.resolve(dir);

  function fileFor(digest: string): string {
    if (!isValidDigest(digest)) {
      throw new CutoverError('ARTIFACT_INVALID', `Not an artifact digest: ${JSON.stringify(digest)}; expected "sha256:" and 64 lowercase hex digits`);
    }
    return path.join(root, `sha256-${digest.slice('sha256:'.length)}.tgz`);
  }

  async function has(digest: string): Promise<boolean> {
    if (!isValidDigest(digest)) return false;
    try {
      return (await stat(fileFor(digest))).isFile();
    } catch {
      return false;
    }
  }

  async function put(body: NodeJS.ReadableStream | Buffer, expectedDigest?: string): Promise<{ digest: string; size: number }> {
    if (expectedDigest !== undefined) fileFor(expectedDigest);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : (body as AsyncIterable<Buffer | string>);
    const hash = createHash('sha256');
    let size = 0;
    const hashing = async function* (chunks: AsyncIterable<Buffer | string>) {
      for await (const c of chunks) {
        const chunk = typeof c === 'string' ? Buffer.from(c) : c;
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    const verify = (digest: string) => {
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new CutoverError('ARTIFACT_INVALID', `Artifact content does not match its digest: expected ${expectedDigest}, got ${digest}; upload it again`, {
          details: { expected: expectedDigest, actual: digest },
        });
      }
    };

    // A republish of stored content only needs its bytes checked, not written again.
    if (expectedDigest !== undefined && (await has(expectedDigest))) {
      await pipeline(source, hashing, new Writable({ write: (_c, _e, cb) => cb() }));
      const digest = `sha256:${hash.digest('hex')}`;
      verify(digest);
      return { digest, size };
    }

    // Artifacts are every instance's code: not for other users of the machine (slots included).
    await mkdir(root, { recursive: true, mode: 0o700 });
    const tmp = path.join(root, `.tmp-${randomUUID()}`);
    try {
      // `flush` fsyncs before close, so the rename below never exposes a partly written file.
      await pipeline(source, hashing, createWriteStream(tmp, { flags: 'wx', flush: true }));
      const digest = `sha256:${hash.digest('hex')}`;
      verify(digest);
      const final = fileFor(digest);
      if (await has(digest)) await rm(tmp, { force: true });
      else {
        await rename(tmp, final);
        await syncDir(root);
      }
      return { digest, size };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  function openArtifact(digest: string): NodeJS.ReadableStream {
    const file = fileFor(digest);
    return Readable.from(
      (async function* () {
        const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') throw new CutoverError('ARTIFACT_NOT_FOUND', `Artifact ${digest} is not stored; publish the release again`, { cause: err });
          throw err;
        });
        // The read stream closes the handle when it ends or is destroyed.
        yield* handle.createReadStream() as AsyncIterable<Buffer>;
      })(),
      { objectMode: false },
    );
  }

  return { dir: root, put, has, path: fileFor, open: openArtifact };
}

// The rename is durable only once the directory entry itself is on disk.
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a directory; the file itself is already synced.
  } finally {
    await handle.close();
  }
}
