import { once } from 'node:events';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CutoverError } from '../shared/index.ts';
import { isValidDigest } from './release-digest.ts';
import { sniffTarGz } from './sniff-artifact.ts';

/** Limits for one upload. */
export interface PutOptions {
  /** Most bytes accepted; past it the upload stops with `BODY_TOO_LARGE` and nothing is kept. */
  maxBytes?: number;
  /** Refuse (`ARTIFACT_INVALID`) a body that does not start as a gzip'd tar archive. */
  sniff?: boolean;
}

/** A file in the store's directory: an artifact (`digest` set) or a temporary file of an upload that never finished. */
export interface StoredFile {
  name: string;
  digest?: string;
  mtimeMs: number;
}

/** The name of a stored artifact's file (the hex of its digest captured); not global, so `exec`/`test` keep no state. */
const ARTIFACT_NAME = /^sha256-([0-9a-f]{64})\.tgz$/;

/** The digest a {@link StoredFile} name stands for, if it names an artifact (not a temporary file). */
export function digestOfFileName(name: string): string | undefined {
  const match = ARTIFACT_NAME.exec(name);
  return match ? `sha256:${match[1]}` : undefined;
}

/** The name of the file that holds `digest` (a valid digest). */
export const fileNameOf = (digest: string): string => `sha256-${digest.slice('sha256:'.length)}.tgz`;

/** Content-addressed artifact files, `<dir>/sha256-<hex>.tgz`. */
export interface ArtifactStore {
  dir: string;
  /**
   * Stores `body`, hashing it while it streams to a temporary file that is fsynced and then
   * renamed into place. With `expectedDigest`, a mismatch is `ARTIFACT_INVALID` and nothing is
   * kept. Storing content that is already there is a no-op.
   */
  put(body: NodeJS.ReadableStream | Buffer, expectedDigest?: string, options?: PutOptions): Promise<{ digest: string; size: number }>;
  /** Every stored artifact and leftover temporary file, with its age (mtime: upload or last re-upload). */
  list(): Promise<StoredFile[]>;
  /** Deletes a stored artifact or temporary file by its name in {@link StoredFile}; a missing one is fine. */
  remove(name: string): Promise<void>;
  has(digest: string): Promise<boolean>;
  /** The file for `digest` (which may not exist yet). Throws `ARTIFACT_INVALID` for a malformed digest. */
  path(digest: string): string;
  /**
   * The local file holding `digest`, to serve with `Range` (the agent link). A replica's cache
   * ({@link createCachedArtifactStore}) fetches a missing one from the shared copy first; this store
   * has nothing to fetch from, so it is {@link path}, whether or not the file exists.
   */
  localFile(digest: string): Promise<string>;
  /**
   * Streams the artifact; the stream fails with `ARTIFACT_NOT_FOUND` if it is not stored, and with
   * `ARTIFACT_DIGEST_MISMATCH` at its end if the bytes do not hash to `digest`.
   */
  open(digest: string): NodeJS.ReadableStream;
}

/** Creates an artifact store in `dir` (created on first `put`). */
export function createArtifactStore(dir: string): ArtifactStore {
  const root = path.resolve(dir);

  function fileFor(digest: string): string {
    if (!isValidDigest(digest)) {
      throw new CutoverError('ARTIFACT_INVALID', `Not an artifact digest: ${JSON.stringify(digest)}; expected "sha256:" and 64 lowercase hex digits`);
    }
    return path.join(root, fileNameOf(digest));
  }

  async function has(digest: string): Promise<boolean> {
    if (!isValidDigest(digest)) return false;
    try {
      return (await stat(fileFor(digest))).isFile();
    } catch {
      return false;
    }
  }

  async function put(body: NodeJS.ReadableStream | Buffer, expectedDigest?: string, options: PutOptions = {}): Promise<{ digest: string; size: number }> {
    if (expectedDigest !== undefined) fileFor(expectedDigest);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : (body as AsyncIterable<Buffer | string>);
    const hash = createHash('sha256');
    let size = 0;
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    let head: Buffer[] | undefined = options.sniff ? [] : undefined;
    const sniff = (ended: boolean) => {
      if (!head) return;
      const verdict = sniffTarGz(Buffer.concat(head), ended);
      if (verdict.kind === 'invalid') throw new CutoverError('ARTIFACT_INVALID', `The upload ${verdict.problem}; nothing was stored`);
      if (verdict.kind === 'tgz') head = undefined;
    };
    const hashing = async function* (chunks: AsyncIterable<Buffer | string>) {
      for await (const c of chunks) {
        const chunk = typeof c === 'string' ? Buffer.from(c) : c;
        size += chunk.length;
        if (size > maxBytes) {
          throw new CutoverError('BODY_TOO_LARGE', `The artifact is larger than ${maxBytes} bytes, the server's limit (setting maxArtifactSize); make it smaller, or raise maxArtifactSize`, {
            details: { limit: maxBytes },
          });
        }
        hash.update(chunk);
        if (head) {
          head.push(chunk);
          sniff(false);
        }
        yield chunk;
      }
      sniff(true);
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
      await touch(fileFor(digest));
      return { digest, size };
    }

    // Artifacts are every instance's code: not for other users of the machine (slots included).
    await mkdir(root, { recursive: true, mode: 0o700 });
    const tmp = path.join(root, `.tmp-${randomUUID()}`);
    // `flush` fsyncs before close, so the rename below never exposes a partly written file.
    const file = createWriteStream(tmp, { flags: 'wx', flush: true });
    try {
      await pipeline(source, hashing, file);
      const digest = `sha256:${hash.digest('hex')}`;
      verify(digest);
      const final = fileFor(digest);
      if (await has(digest)) {
        await rm(tmp, { force: true });
        await touch(final);
      } else {
        await rename(tmp, final);
        await syncDir(root);
      }
      return { digest, size };
    } catch (err) {
      // A refused upload may fail before the file is even open: wait until it is closed, or the
      // open would create it after the removal and leave it behind.
      if (!file.closed) await once(file, 'close').catch(() => undefined);
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
        // The read stream closes the handle when it ends or is destroyed. The bytes are hashed as
        // they go out, and a file changed at rest fails the stream at its end instead of ending
        // it cleanly (review L5), so the receiver (the agent, a download) never takes it as whole.
        const hash = createHash('sha256');
        for await (const chunk of handle.createReadStream() as AsyncIterable<Buffer>) {
          hash.update(chunk);
          yield chunk;
        }
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) {
          throw new CutoverError('ARTIFACT_DIGEST_MISMATCH', `Stored artifact ${digest} hashes to ${actual}: it was changed or damaged at rest; upload it again`, {
            details: { expected: digest, actual },
          });
        }
      })(),
      { objectMode: false },
    );
  }

  async function list(): Promise<StoredFile[]> {
    const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const files: StoredFile[] = [];
    for (const name of names) {
      const match = ARTIFACT_NAME.exec(name);
      if (!match && !name.startsWith('.tmp-')) continue;
      const info = await stat(path.join(root, name)).catch(() => undefined);
      if (!info?.isFile()) continue;
      files.push({ name, ...(match ? { digest: `sha256:${match[1]}` } : {}), mtimeMs: info.mtimeMs });
    }
    return files;
  }

  async function remove(name: string): Promise<void> {
    if (path.basename(name) !== name || !(ARTIFACT_NAME.test(name) || name.startsWith('.tmp-'))) {
      throw new CutoverError('ARTIFACT_INVALID', `Not a file of the artifact store: ${JSON.stringify(name)}`);
    }
    await rm(path.join(root, name), { force: true });
  }

  return { dir: root, put, has, path: fileFor, localFile: async (digest) => fileFor(digest), open: openArtifact, list, remove };
}

// A re-upload restarts the age of stored content, so a publish that follows it is never beaten
// by the collection of unreferenced uploads.
async function touch(file: string): Promise<void> {
  const now = new Date();
  await utimes(file, now, now).catch(() => undefined);
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
