import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import { createMemoryArtifactBlobs } from '../store/index.ts';
import type { ArtifactBlobs, MemoryBlob } from '../store/index.ts';
import { artifactsToCollect, createArtifactStore, createCachedArtifactStore } from './index.ts';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Two replicas, each with its own artifacts directory, sharing one database (the memory fake's
 * map, as two PostgreSQL pools share tables). `opens` counts reads of the shared copies.
 */
async function twoReplicas(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cutover-cache-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const data = new Map<string, MemoryBlob>();
  let opens = 0;
  const shared = (): ArtifactBlobs => {
    const blobs = createMemoryArtifactBlobs({ chunkSize: 1000, data });
    return { ...blobs, open: (d) => (opens++, blobs.open(d)) };
  };
  let clock = 1_000_000;
  const replica = (name: string) => createCachedArtifactStore(createArtifactStore(path.join(root, name)), shared(), { now: () => clock });
  return { a: replica('a'), b: replica('b'), data, root, opens: () => opens, setClock: (ms: number) => (clock = ms) };
}

const body = Buffer.from('an artifact uploaded through replica A '.repeat(400));
const digest = digestOf(body);

test('an artifact uploaded through one replica is had by another, and fetched into its cache when served', async (t) => {
  const { a, b, opens } = await twoReplicas(t);
  assert.deepEqual(await a.put(body, digest), { digest, size: body.length });
  assert.equal(await b.has(digest), true);
  assert.deepEqual(await readdir(b.dir).catch(() => []), [], 'nothing local to B yet');

  const file = await b.localFile(digest);
  assert.equal(file, b.path(digest));
  assert.deepEqual(await readFile(file), body);
  assert.deepEqual(await readdir(b.dir), [path.basename(file)], 'no temporary file left');
  assert.equal(opens(), 1);
  // Cached now: served from the file, the shared copy is not read again.
  assert.deepEqual(await readAll(b.open(digest)), body);
  assert.equal(opens(), 1);
});

test('concurrent fetches of one digest share one download', async (t) => {
  const { a, b, opens } = await twoReplicas(t);
  await a.put(body, digest);
  const files = await Promise.all([b.localFile(digest), b.localFile(digest), readAll(b.open(digest)), b.localFile(digest)]);
  assert.equal(opens(), 1);
  assert.deepEqual(files[2], body);
  assert.deepEqual(await readdir(b.dir), [path.basename(b.path(digest))]);
});

test('a chunk tampered with in the database is refused with ARTIFACT_DIGEST_MISMATCH and nothing is cached; an upload again repairs it', async (t) => {
  const { a, b, data } = await twoReplicas(t);
  await a.put(body, digest);
  data.get(digest)!.chunks[3] = Buffer.alloc(1000, 0x41);
  const refused = (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_DIGEST_MISMATCH';
  await assert.rejects(b.localFile(digest), refused);
  await assert.rejects(readAll(b.open(digest)), refused);
  assert.deepEqual(await readdir(b.dir), [], 'no partial or temporary file');
  assert.equal(await b.has(digest), false, 'the damaged copy no longer counts');
  // A, which has its own verified copy, still serves it; uploading again through it repairs the shared copy.
  assert.deepEqual(await readAll(a.open(digest)), body);
  await a.put(Buffer.from(body), digest);
  assert.deepEqual(await readFile(await b.localFile(digest)), body);
});

test('an artifact stored nowhere is ARTIFACT_NOT_FOUND; a malformed digest ARTIFACT_INVALID', async (t) => {
  const { b } = await twoReplicas(t);
  const missing = `sha256:${'0'.repeat(64)}`;
  assert.equal(await b.has(missing), false);
  await assert.rejects(b.localFile(missing), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_NOT_FOUND');
  await assert.rejects(readAll(b.open(missing)), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_NOT_FOUND');
  await assert.rejects(b.localFile('sha256:../../etc/passwd'), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
});

test('an upload that does not match its digest is kept neither locally nor shared', async (t) => {
  const { a, b, data } = await twoReplicas(t);
  await assert.rejects(a.put(Buffer.from('not it'), digest), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
  assert.equal(data.size, 0);
  assert.equal(await b.has(digest), false);
  assert.deepEqual(await a.list(), []);
});

test('a re-upload through another replica changes no bytes, only the age; list shows one entry per artifact', async (t) => {
  const { a, b, data, setClock } = await twoReplicas(t);
  setClock(5_000);
  await a.put(body, digest);
  const chunks = data.get(digest)!.chunks;
  setClock(9_000_000_000_000);
  assert.deepEqual(await b.put(Buffer.from(body), digest), { digest, size: body.length });
  assert.equal(data.get(digest)!.chunks, chunks, 'the stored chunks were not written again');
  assert.equal(data.get(digest)!.touchedAt, 9_000_000_000_000);
  const listed = await a.list();
  assert.deepEqual(listed.map((f) => [f.name, f.digest, f.mtimeMs]), [[path.basename(a.path(digest)), digest, 9_000_000_000_000]]);
});

test('remove deletes the local file and the shared copy; other replicas keep only their cache', async (t) => {
  const { a, b } = await twoReplicas(t);
  await a.put(body, digest);
  await b.localFile(digest);
  const [entry] = await b.list();
  assert.ok(entry);
  await b.remove(entry.name);
  await assert.rejects(stat(b.path(digest)));
  assert.equal(await b.has(digest), false);
  // A's collection sees its local copy alone and removes it in turn.
  assert.deepEqual((await a.list()).map((f) => f.digest), [digest]);
  await a.remove(entry.name);
  assert.equal(await a.has(digest), false);
  await assert.rejects(b.remove('../../etc/passwd'), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
});

test('shareLocal shares what only this replica holds, with the age of its file', async (t) => {
  const { b, data, root } = await twoReplicas(t);
  // Uploaded before replicas shared artifacts: in A's directory only.
  const before = createArtifactStore(path.join(root, 'a'));
  await before.put(body, digest);
  const mtimeMs = (await stat(before.path(digest))).mtimeMs;
  assert.equal(await b.has(digest), false);
  const a = createCachedArtifactStore(before, createMemoryArtifactBlobs({ chunkSize: 1000, data }));
  assert.equal(await a.shareLocal(), 1);
  assert.equal(await a.shareLocal(), 0, 'once is enough');
  assert.equal(data.get(digest)!.touchedAt, mtimeMs);
  assert.deepEqual(await readFile(await b.localFile(digest)), body);
});

test('the collection of unreferenced uploads, run on any replica, sees every replica’s uploads and removes the shared copy', async (t) => {
  const { a, b, data, setClock } = await twoReplicas(t);
  const referenced = Buffer.from('a published release’s artifact');
  const orphan = Buffer.from('an upload whose publish was refused');
  const fresh = Buffer.from('uploaded again a moment ago');
  const hour = 3_600_000;
  const now = Date.now();
  setClock(now - 2 * hour);
  for (const x of [referenced, orphan, fresh]) await a.put(x);
  setClock(now - 60_000);
  await a.put(fresh); // A's re-upload restarts the shared copy's age.

  // B never saw `orphan` or `referenced` but collects them as their age in the database says.
  const doomed = artifactsToCollect(await b.list(), new Set([digestOf(referenced)]), now, hour);
  assert.deepEqual(doomed.map((f) => f.digest), [digestOf(orphan)]);
  for (const f of doomed) await b.remove(f.name);
  assert.deepEqual([...data.keys()].sort(), [digestOf(referenced), digestOf(fresh)].sort());
});
