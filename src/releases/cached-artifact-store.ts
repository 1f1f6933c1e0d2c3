import { Readable } from 'node:stream';
import type { Logger } from '../shared/index.ts';
import type { ArtifactBlobs } from '../store/index.ts';
import { digestOfFileName, fileNameOf } from './artifact-store.ts';
import type { ArtifactStore, PutOptions, StoredFile } from './artifact-store.ts';

/** A server replica's artifact store when replicas share a database: the shared copies, cached locally. */
export interface CachedArtifactStore extends ArtifactStore {
  /**
   * Shares every local artifact the shared store lacks (uploaded before replicas shared them, or
   * whose shared write failed), keeping its age. Returns how many it shared.
   */
  shareLocal(): Promise<number>;
}

/** Options of {@link createCachedArtifactStore}. */
export interface CachedArtifactStoreOptions {
  log?: Logger;
  /** The age an upload starts with in the shared store (ms); the local file's is its mtime, real time too. */
  now?: () => number;
}

/**
 * Artifacts shared by every server replica through `shared` (PostgreSQL, ADR 0024), with this
 * replica's directory (`local`) as its cache:
 * - `put` stores the upload as before (local file, hashed, fsynced, renamed), then streams that
 *   file into the shared copy, which checks the digest again before it commits;
 * - `has` is true if either holds it;
 * - `open` and `localFile` (the agent link serves a local file, with `Range`) fetch an artifact the
 *   cache lacks first: a temporary file written while it arrives, hashed, renamed into place only if
 *   it is the digest, else `ARTIFACT_DIGEST_MISMATCH` and nothing kept. Concurrent fetches of one
 *   digest share one download;
 * - `list` and `remove` (the collection of uploads no release references) cover both.
 */
export function createCachedArtifactStore(local: ArtifactStore, shared: ArtifactBlobs, options: CachedArtifactStoreOptions = {}): CachedArtifactStore {
  const now = options.now ?? Date.now;
  const fetching = new Map<string, Promise<string>>();

  async function fetchIntoCache(digest: string): Promise<string> {
    const started = performance.now();
    // `shared.open` fails at its end with ARTIFACT_DIGEST_MISMATCH on damaged bytes; `local.put`
    // hashes them again, and either way its temporary file is removed and nothing is renamed.
    const { size } = await local.put(shared.open(digest), digest);
    options.log?.info({ digest, size, ms: Math.round(performance.now() - started) }, 'fetched an artifact from the shared store into this replica');
    return local.path(digest);
  }

  async function localFile(digest: string): Promise<string> {
    const file = local.path(digest); // ARTIFACT_INVALID for a malformed digest
    if (await local.has(digest)) return file;
    let pending = fetching.get(digest);
    if (!pending) {
      pending = fetchIntoCache(digest).finally(() => fetching.delete(digest));
      fetching.set(digest, pending);
    }
    return pending;
  }

  async function put(body: NodeJS.ReadableStream | Buffer, expectedDigest?: string, putOptions?: PutOptions) {
    const result = await local.put(body, expectedDigest, putOptions);
    await shared.put(result.digest, () => local.open(result.digest) as AsyncIterable<Buffer>, now());
    return result;
  }

  function open(digest: string): NodeJS.ReadableStream {
    return Readable.from(
      (async function* () {
        await localFile(digest);
        yield* local.open(digest) as AsyncIterable<Buffer>;
      })(),
      { objectMode: false },
    );
  }

  async function list(): Promise<StoredFile[]> {
    const [files, copies] = await Promise.all([local.list(), shared.list()]);
    const byName = new Map(files.map((f) => [f.name, f]));
    // One entry per artifact, as old as its most recent upload on any replica.
    for (const c of copies) {
      const name = fileNameOf(c.digest);
      const mine = byName.get(name);
      byName.set(name, { name, digest: c.digest, mtimeMs: Math.max(mine?.mtimeMs ?? -Infinity, c.touchedAt) });
    }
    return [...byName.values()];
  }

  async function remove(name: string): Promise<void> {
    await local.remove(name); // ARTIFACT_INVALID for a name that is not the store's
    const digest = digestOfFileName(name);
    if (digest) await shared.remove(digest);
  }

  async function shareLocal(): Promise<number> {
    let count = 0;
    for (const f of await local.list()) {
      if (!f.digest || (await shared.has(f.digest))) continue;
      const digest = f.digest;
      const { stored } = await shared.put(digest, () => local.open(digest) as AsyncIterable<Buffer>, f.mtimeMs);
      if (stored) count++;
    }
    if (count) options.log?.info({ count }, 'shared the artifacts only this replica held');
    return count;
  }

  return {
    dir: local.dir,
    path: (digest) => local.path(digest),
    localFile,
    put,
    has: async (digest) => (await local.has(digest)) || (await shared.has(digest)),
    open,
    list,
    remove,
    shareLocal,
  };
}
