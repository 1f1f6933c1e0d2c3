import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isCutoverError } from '../shared/index.ts';
import { createArtifactStore } from './index.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A body arriving in many chunks, like an HTTP upload. */
function chunked(b: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

test('put stores content by digest; has, path and open find it', async (t) => {
  const root = await tempDir(t);
  const store = createArtifactStore(path.join(root, 'artifacts'));
  const body = Buffer.alloc(250_000, 7);
  const digest = digestOf(body);
  assert.equal(await store.has(digest), false);
  assert.deepEqual(await store.put(chunked(body), digest), { digest, size: body.length });
  assert.equal(await store.has(digest), true);
  assert.equal(store.path(digest), path.join(root, 'artifacts', `sha256-${digest.slice(7)}.tgz`));
  assert.deepEqual(await readFile(store.path(digest)), body);
  assert.deepEqual(await readAll(store.open(digest)), body);

  const small = Buffer.from('a buffer body');
  assert.deepEqual(await store.put(small), { digest: digestOf(small), size: small.length });
  assert.deepEqual(await readAll(store.open(digestOf(small))), small);
});

test('put is idempotent and leaves no temporary files', async (t) => {
  const root = await tempDir(t);
  const store = createArtifactStore(root);
  const body = Buffer.from('same bytes');
  const first = await store.put(body);
  const again = await store.put(chunked(body, 3));
  const expected = await store.put(Buffer.from(body), first.digest);
  assert.deepEqual(again, first);
  assert.deepEqual(expected, first);
  const [a, b] = await Promise.all([store.put(Buffer.from('x')), store.put(Buffer.from('x'))]);
  assert.deepEqual(a, b);
  assert.deepEqual((await readdir(root)).sort(), [path.basename(store.path(first.digest)), path.basename(store.path(a.digest))].sort());
});

test('a digest mismatch is ARTIFACT_INVALID and stores nothing', async (t) => {
  const root = await tempDir(t);
  const store = createArtifactStore(root);
  const wrong = digestOf(Buffer.from('something else'));
  const err = await store.put(Buffer.from('actual'), wrong).catch((e: unknown) => e);
  assert.ok(isCutoverError(err));
  assert.equal(err.code, 'ARTIFACT_INVALID');
  assert.equal(err.details['expected'], wrong);
  assert.deepEqual(await readdir(root), []);
  assert.equal(await store.has(digestOf(Buffer.from('actual'))), false);

  // Content already stored under the claimed digest still has to match it.
  const stored = await store.put(Buffer.from('stored'));
  const again = await store.put(Buffer.from('not stored'), stored.digest).catch((e: unknown) => e);
  assert.ok(isCutoverError(again) && again.code === 'ARTIFACT_INVALID');
  assert.deepEqual(await readFile(store.path(stored.digest), 'utf8'), 'stored');
});

test('malformed digests are refused; opening a missing artifact fails with ARTIFACT_NOT_FOUND', async (t) => {
  const root = await tempDir(t);
  const store = createArtifactStore(root);
  assert.throws(() => store.path('sha256:../../etc/passwd'), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
  assert.equal(await store.has('nope'), false);
  await assert.rejects(store.put(Buffer.from('x'), 'sha256:XYZ'), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
  const missing = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(readAll(store.open(missing)), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_NOT_FOUND');
});

test('a failing upload stream leaves nothing behind', async (t) => {
  const root = await tempDir(t);
  const store = createArtifactStore(root);
  const body = new Readable({
    read() {
      this.push(Buffer.alloc(1000));
      this.destroy(new Error('client went away'));
    },
  });
  await assert.rejects(store.put(body), /client went away/);
  assert.deepEqual(await readdir(root), []);
});

test('an artifact changed at rest fails its download stream with ARTIFACT_DIGEST_MISMATCH, and the receiving store keeps nothing', async (t) => {
  const dir = await tempDir(t);
  const server = createArtifactStore(path.join(dir, 'server'));
  const agent = createArtifactStore(path.join(dir, 'agent'));
  const body = Buffer.from('the real artifact '.repeat(5000));
  const { digest } = await server.put(body);
  assert.deepEqual(await readAll(server.open(digest)), body);

  await writeFile(server.path(digest), Buffer.from('TAMPERED '.repeat(5000)));
  await assert.rejects(readAll(server.open(digest)), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_DIGEST_MISMATCH' && /changed or damaged at rest/.test(e.message));
  // The agent's receive path: the push is the server's stream; both ends refuse it.
  await assert.rejects(agent.put(server.open(digest), digest), (e: unknown) => isCutoverError(e) && ['ARTIFACT_DIGEST_MISMATCH', 'ARTIFACT_INVALID'].includes(e.code));
  assert.equal(await agent.has(digest), false);
  assert.deepEqual(await agent.list(), []);
});
