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
import type { PoolClient } from 'pg';
import { createPgDb } from './postgres-db.ts';

/** Options of {@link createPostgresArtifactBlobs}. */
export interface PostgresArtifactBlobsOptions {
  /** Bytes per row of `artifact_chunks` (default 1 MiB); an artifact keeps the size it was written with. */
  chunkSize?: number;
  /** Connections in its own pool (default 4): an upload holds one for its whole transaction. */
  poolSize?: number;
}

/** Chunks read per query on the way out: 4 MiB per round trip, and never more than that in memory. */
const CHUNKS_PER_READ = 4;

/**
 * Artifacts in the tables of migration 0008: `artifacts` (one row per digest) and `artifact_chunks`
 * (its bytes, `seq` 0, 1, 2…). A put writes the row first, so a second put of the same digest on
 * any replica waits on its primary key and then finds it stored; the chunks follow in the same
 * transaction, which commits only if they hash to the digest. Readers see an artifact whole or not
 * at all. A read that finds a copy damaged marks it (`damaged`), and the next put replaces it. The
 * database must have been migrated (`createPostgresStore` does it on open).
 */
export function createPostgresArtifactBlobs(url: string, options: PostgresArtifactBlobsOptions = {}): ArtifactBlobs {
  const chunkSize = options.chunkSize ?? DEFAULT_ARTIFACT_CHUNK_BYTES;
  const db = createPgDb(url, options.poolSize ?? 4);

  /**
   * Takes the digest's row for this transaction: a new row (`write`), or the stored one, whose age
   * is refreshed (`stored`) unless a read found it damaged, when its chunks go (`write` again).
   */
  async function claim(client: PoolClient, digest: string, at: number): Promise<{ write: true } | { write: false; size: number }> {
    for (;;) {
      const inserted = await client.query(
        `INSERT INTO artifacts (digest, size, chunk_size, chunks, created_at, touched_at) VALUES ($1, 0, $2, 0, $3, $3)
         ON CONFLICT (digest) DO NOTHING`,
        [digest, chunkSize, at],
      );
      if (inserted.rowCount === 1) return { write: true };
      const res = await client.query<{ size: number; damaged: boolean }>('SELECT size, damaged FROM artifacts WHERE digest = $1 FOR UPDATE', [digest]);
      const row = res.rows[0];
      if (!row) continue; // removed in between: claim it anew
      if (!row.damaged) {
        await client.query('UPDATE artifacts SET touched_at = GREATEST(touched_at, $2) WHERE digest = $1', [digest, at]);
        return { write: false, size: row.size };
      }
      // These bytes replace the damaged copy, or (on a mismatch) the rollback keeps it as it was.
      await client.query('DELETE FROM artifact_chunks WHERE digest = $1', [digest]);
      await client.query('UPDATE artifacts SET chunk_size = $2, touched_at = $3, damaged = false WHERE digest = $1', [digest, chunkSize, at]);
      return { write: true };
    }
  }

  async function put(digest: string, open: () => AsyncIterable<Uint8Array>, at: number) {
    checkArtifactDigest(digest);
    return db.transaction(async (client) => {
      const claimed = await claim(client, digest, at);
      if (!claimed.write) return { size: claimed.size, stored: false };
      const check = digestCheck(digest);
      let seq = 0;
      for await (const piece of rechunk(open(), chunkSize)) {
        await client.query('INSERT INTO artifact_chunks (digest, seq, data) VALUES ($1, $2, $3)', [digest, seq++, check.add(piece)]);
      }
      // Throws (and the transaction rolls back, the row and every chunk with it) unless the bytes are the digest.
      const size = check.check();
      await client.query('UPDATE artifacts SET size = $2, chunks = $3 WHERE digest = $1', [digest, size, seq]);
      return { size, stored: true };
    });
  }

  function open(digest: string): NodeJS.ReadableStream {
    return Readable.from(
      (async function* () {
        checkArtifactDigest(digest);
        // `xmin` names the version of the row read here: the damage is recorded only on that
        // version, never on a copy a concurrent upload replaced (or touched) while this one read.
        const head = await db.query<{ size: number; chunks: number; version: string }>('SELECT size, chunks, xmin::text AS version FROM artifacts WHERE digest = $1', [digest]);
        const row = head.rows[0];
        if (!row) throw sharedArtifactMissing(digest);
        // Autocommit reads a few chunks at a time: no connection is held while the receiver is slow.
        const pieces = async function* () {
          for (let from = 0; from < row.chunks; from += CHUNKS_PER_READ) {
            const res = await db.query<{ seq: number; data: Buffer }>(
              'SELECT seq, data FROM artifact_chunks WHERE digest = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
              [digest, from, from + CHUNKS_PER_READ],
            );
            let expect = from;
            for (const r of res.rows) {
              if (r.seq !== expect) throw chunkMissing(digest, expect);
              expect++;
              yield r.data;
            }
            if (expect < Math.min(row.chunks, from + CHUNKS_PER_READ)) throw chunkMissing(digest, expect);
          }
        };
        try {
          yield* verifiedOut(digest, row.size, pieces());
        } catch (error) {
          if (isCutoverError(error) && error.code === 'ARTIFACT_DIGEST_MISMATCH') {
            await db.query('UPDATE artifacts SET damaged = true WHERE digest = $1 AND xmin::text = $2', [digest, row.version]).catch(() => undefined);
          }
          throw error;
        }
      })(),
      { objectMode: false },
    );
  }

  return {
    put,
    open,
    async has(digest) {
      if (!isArtifactDigest(digest)) return false;
      return (await db.query('SELECT 1 FROM artifacts WHERE digest = $1 AND NOT damaged', [digest])).rowCount === 1;
    },
    async list() {
      const res = await db.query<{ digest: string; size: number; touched_at: number }>('SELECT digest, size, touched_at FROM artifacts ORDER BY digest');
      return res.rows.map((r) => ({ digest: r.digest, size: r.size, touchedAt: r.touched_at }));
    },
    async remove(digest) {
      if (!isArtifactDigest(digest)) return false;
      // The chunks go with it (ON DELETE CASCADE).
      return (await db.query('DELETE FROM artifacts WHERE digest = $1', [digest])).rowCount === 1;
    },
    close: () => db.pool.end(),
  };
}
