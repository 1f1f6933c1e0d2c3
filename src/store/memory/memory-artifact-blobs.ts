import { Readable } from 'node:stream';
import { isCutoverError } from '../../shared/index.ts';
import {
  DEFAULT_ARTIFACT_CHUNK_BYTES,
  checkArtifactDigest,
  chunkMissing,
  digestCheck,
  isArtifactDigest,
  rechunk,
  sharedArtifactMissing,
  verifiedOut,
} from '../artifact-blobs.ts';
import type { ArtifactBlobs } from '../artifact-blobs.ts';

/** One stored artifact of the fake: its chunks as the database would hold them. */
export interface MemoryBlob {
  size: number;
  chunks: (Buffer | undefined)[];
  touchedAt: number;
  /** A read found it damaged: `has` does not count it, the next put replaces it. */
  damaged?: boolean;
}

/** Options of {@link createMemoryArtifactBlobs}. */
export interface MemoryArtifactBlobsOptions {
  chunkSize?: number;
  /**
   * What the fake holds. Pass one map to several fakes to have "replicas" share one database; a test
   * may change a chunk in it, as raw SQL would, to see the damage refused.
   */
  data?: Map<string, MemoryBlob>;
}

/** The in-memory `ArtifactBlobs`, checked by the same contract suite as PostgreSQL's. */
export function createMemoryArtifactBlobs(options: MemoryArtifactBlobsOptions = {}): ArtifactBlobs {
  const chunkSize = options.chunkSize ?? DEFAULT_ARTIFACT_CHUNK_BYTES;
  const data = options.data ?? new Map<string, MemoryBlob>();
  // Digests being written: a second put waits for the first, as PostgreSQL's row lock makes it.
  const writing = new Map<string, Promise<unknown>>();

  async function put(digest: string, open: () => AsyncIterable<Uint8Array>, at: number) {
    checkArtifactDigest(digest);
    while (writing.has(digest)) await writing.get(digest)!.catch(() => undefined);
    const stored = data.get(digest);
    if (stored && !stored.damaged) {
      stored.touchedAt = at;
      return { size: stored.size, stored: false };
    }
    const work = (async () => {
      const check = digestCheck(digest);
      const chunks: Buffer[] = [];
      for await (const piece of rechunk(open(), chunkSize)) chunks.push(check.add(piece));
      const size = check.check();
      // Replaces a damaged copy only now, once the bytes proved right.
      data.set(digest, { size, chunks, touchedAt: at });
      return { size, stored: true };
    })();
    writing.set(digest, work);
    try {
      return await work;
    } finally {
      writing.delete(digest);
    }
  }

  function open(digest: string): NodeJS.ReadableStream {
    return Readable.from(
      (async function* () {
        checkArtifactDigest(digest);
        const blob = data.get(digest);
        if (!blob) throw sharedArtifactMissing(digest);
        const pieces = async function* () {
          for (let seq = 0; seq < blob.chunks.length; seq++) {
            const chunk = blob.chunks[seq];
            if (!chunk) throw chunkMissing(digest, seq);
            yield Buffer.from(chunk);
          }
        };
        try {
          yield* verifiedOut(digest, blob.size, pieces());
        } catch (error) {
          if (isCutoverError(error) && error.code === 'ARTIFACT_DIGEST_MISMATCH') blob.damaged = true;
          throw error;
        }
      })(),
      { objectMode: false },
    );
  }

  return {
    put,
    open,
    has: async (digest) => isArtifactDigest(digest) && data.has(digest) && !data.get(digest)!.damaged,
    list: async () => [...data].sort(([a], [b]) => (a < b ? -1 : 1)).map(([digest, b]) => ({ digest, size: b.size, touchedAt: b.touchedAt })),
    remove: async (digest) => isArtifactDigest(digest) && data.delete(digest),
    close: async () => {},
  };
}
