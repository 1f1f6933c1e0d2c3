// The port for artifacts several server replicas share (issue 19, ADR 0024): content-addressed
// bytes kept in chunks, verified by digest on the way in and on the way out. PostgreSQL implements
// it (`postgres/postgres-artifact-blobs.ts`), the memory fake too (`memory/memory-artifact-blobs.ts`);
// both pass `artifact-blobs-contract.ts`. Each replica's `<dataDir>/artifacts` is only its cache
// (`createCachedArtifactStore` in `releases/`).
import { createHash } from 'node:crypto';
import { CutoverError } from '../shared/index.ts';

/** 1 MiB: big enough that a 1 GiB artifact is a thousand rows, small enough to hold one in memory. */
export const DEFAULT_ARTIFACT_CHUNK_BYTES = 1024 * 1024;

/** A shared artifact as listed. */
export interface SharedArtifact {
  digest: string;
  size: number;
  /** When it was last uploaded (ms), first or again: what the collection of unreferenced uploads ages it by. */
  touchedAt: number;
}

/** Content-addressed artifacts shared by every server replica. */
export interface ArtifactBlobs {
  /**
   * Stores the bytes `open` gives under `digest`, all or nothing: they are hashed while they are
   * written in chunks, and if they do not hash to `digest` nothing is kept (`ARTIFACT_INVALID`).
   * Content already stored is not read again (`open` is not called, `stored` is false): only its
   * `touchedAt` becomes `at`; but a copy a read found damaged is replaced. Two puts of one digest
   * at once store it once.
   */
  put(digest: string, open: () => AsyncIterable<Uint8Array>, at: number): Promise<{ size: number; stored: boolean }>;
  /** Whether the whole artifact is stored and no read found it damaged; false for a malformed digest. */
  has(digest: string): Promise<boolean>;
  /**
   * Streams the artifact's bytes. The stream fails with `ARTIFACT_NOT_FOUND` if it is not stored,
   * and with `ARTIFACT_DIGEST_MISMATCH` (at its end at the latest) if what is stored does not hash
   * to `digest` or is not the size recorded: a receiver must never take such bytes as whole. Such a
   * copy is then recorded as damaged, so `has` no longer counts it and the next `put` replaces it.
   */
  open(digest: string): NodeJS.ReadableStream;
  /** Every stored artifact, by digest. */
  list(): Promise<SharedArtifact[]>;
  /** Deletes an artifact and its chunks; true if it was there. */
  remove(digest: string): Promise<boolean>;
  /** Releases what it holds (the PostgreSQL pool). */
  close(): Promise<void>;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const isArtifactDigest = (digest: string): boolean => DIGEST.test(digest);

/** Refuses a malformed digest (`ARTIFACT_INVALID`) before it reaches a query. */
export function checkArtifactDigest(digest: string): void {
  if (!isArtifactDigest(digest)) {
    throw new CutoverError('ARTIFACT_INVALID', `Not an artifact digest: ${JSON.stringify(digest)}; expected "sha256:" and 64 lowercase hex digits`);
  }
}

/**
 * Cuts a byte stream into pieces of exactly `size` bytes (the last one shorter, none empty), holding
 * at most one piece plus one incoming chunk in memory: how an upload becomes rows.
 */
export async function* rechunk(source: AsyncIterable<Uint8Array | string>, size: number): AsyncGenerator<Buffer> {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`chunk size must be a positive integer, not ${size}`);
  let parts: Buffer[] = [];
  let held = 0;
  for await (const c of source) {
    let chunk = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    while (held + chunk.length >= size) {
      const take = size - held;
      parts.push(chunk.subarray(0, take));
      // A copy: the caller may keep the piece (a fake stores it) while the source reuses its buffer.
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      parts.push(Buffer.from(chunk));
      held += chunk.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/** Hashes pieces as they pass; `check` then refuses (`ARTIFACT_INVALID`) bytes that are not `digest`. */
export function digestCheck(digest: string) {
  const hash = createHash('sha256');
  let size = 0;
  return {
    add(piece: Buffer): Buffer {
      hash.update(piece);
      size += piece.length;
      return piece;
    },
    /** The size when the bytes are `digest`; throws otherwise. */
    check(): number {
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest) {
        throw new CutoverError('ARTIFACT_INVALID', `Artifact content does not match its digest: expected ${digest}, got ${actual}; nothing was stored, upload it again`, {
          details: { expected: digest, actual },
        });
      }
      return size;
    },
  };
}

/**
 * The bytes of a stored artifact as they go out: hashed and counted while they pass, and the
 * stream fails with `ARTIFACT_DIGEST_MISMATCH` if they are not `digest` of `size` bytes, so a
 * chunk changed or lost in the database is never taken as the artifact.
 */
export async function* verifiedOut(digest: string, size: number, pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let seen = 0;
  for await (const piece of pieces) {
    hash.update(piece);
    seen += piece.length;
    yield piece;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest || seen !== size) {
    throw new CutoverError('ARTIFACT_DIGEST_MISMATCH', `The shared copy of artifact ${digest} hashes to ${actual} (${seen} of ${size} bytes): it was changed or damaged in the database; upload it again (cutover release publish of the same manifest, through any server)`, {
      details: { expected: digest, actual, size, read: seen },
    });
  }
}

/** `ARTIFACT_NOT_FOUND` for an artifact no replica shared. */
export const sharedArtifactMissing = (digest: string): CutoverError =>
  new CutoverError('ARTIFACT_NOT_FOUND', `Artifact ${digest} is not stored on this server nor in the shared database; publish the release again`);

/** `ARTIFACT_DIGEST_MISMATCH` for a chunk missing from a stored artifact. */
export const chunkMissing = (digest: string, seq: number): CutoverError =>
  new CutoverError('ARTIFACT_DIGEST_MISMATCH', `The shared copy of artifact ${digest} lacks its chunk ${seq}: it was damaged in the database; upload it again (cutover release publish of the same manifest, through any server)`, {
    details: { expected: digest, missingChunk: seq },
  });
