import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { artifactBlobsContract } from '../artifact-blobs-contract.ts';
import { createPostgresArtifactBlobs } from './postgres-artifact-blobs.ts';
import { openArtifactBlobs } from '../open-store.ts';
import { startTestCluster } from '../../testing/index.ts';
import type { TestCluster } from '../../testing/index.ts';

let cluster: TestCluster;
before(async () => {
  cluster = await startTestCluster();
});
after(async () => {
  await cluster?.stop();
});

// Each test gets a fresh, migrated database; `tamper` changes a chunk with raw SQL, as someone with
// access to the database could.
artifactBlobsContract(
  'postgres artifact blobs',
  async () => {
    const url = await cluster.createDatabase();
    const chunkSize = 16;
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    return {
      blobs: createPostgresArtifactBlobs(url, { chunkSize }),
      chunkSize,
      async tamper(digest, seq, data) {
        if (data) await raw.query('UPDATE artifact_chunks SET data = $3 WHERE digest = $1 AND seq = $2', [digest, seq, data]);
        else await raw.query('DELETE FROM artifact_chunks WHERE digest = $1 AND seq = $2', [digest, seq]);
      },
      async cleanup() {
        await raw.end();
        cluster.discardDatabase(url);
      },
    };
  },
  40,
);

test('postgres artifact blobs: the bytes are rows of chunk_size bytes, the last one shorter', async () => {
  const url = await cluster.createDatabase();
  const blobs = createPostgresArtifactBlobs(url, { chunkSize: 16 });
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  try {
    const body = Buffer.alloc(16 * 3 + 8, 5);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    await blobs.put(digest, async function* () {
      yield body;
    }, 1);
    const rows = await raw.query<{ seq: number; n: number }>('SELECT seq, length(data) AS n FROM artifact_chunks WHERE digest = $1 ORDER BY seq', [digest]);
    assert.deepEqual(rows.rows, [{ seq: 0, n: 16 }, { seq: 1, n: 16 }, { seq: 2, n: 16 }, { seq: 3, n: 8 }]);
    const head = await raw.query('SELECT size::int, chunk_size, chunks FROM artifacts WHERE digest = $1', [digest]);
    assert.deepEqual(head.rows, [{ size: 56, chunk_size: 16, chunks: 4 }]);
  } finally {
    await raw.end();
    await blobs.close();
    cluster.discardDatabase(url);
  }
});

test('openArtifactBlobs: shared artifacts on a postgres:// database, none with SQLite (one server)', async () => {
  assert.equal(openArtifactBlobs('/var/lib/cutover/private/cutover.db'), undefined);
  const url = await cluster.createDatabase();
  const blobs = openArtifactBlobs(url);
  try {
    assert.ok(blobs);
    assert.deepEqual(await blobs.list(), []);
  } finally {
    await blobs?.close();
    cluster.discardDatabase(url);
  }
});
