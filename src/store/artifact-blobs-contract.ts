import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isCutoverError } from '../shared/index.ts';
import type { ArtifactBlobs } from './artifact-blobs.ts';

/** What each contract test gets: a fresh, empty implementation, and a way to damage it as raw SQL would. */
export interface BlobsUnderTest {
  blobs: ArtifactBlobs;
  /** The chunk size it was made with (small, so tests cross many boundaries cheaply). */
  chunkSize: number;
  /** Replaces chunk `seq` of `digest` with `data`, or deletes it (null). */
  tamper(digest: string, seq: number, data: Buffer | null): Promise<void>;
  cleanup(): Promise<void>;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** `body` as an upload delivers it: in pieces of the given sizes (cycled), the rest in one. */
function pieces(body: Buffer, sizes: number[] = [body.length || 1]) {
  return async function* () {
    let at = 0;
    for (let i = 0; at < body.length; i++) {
      const n = Math.max(1, sizes[i % sizes.length]!);
      yield body.subarray(at, at + n);
      at += n;
    }
  };
}

const code = (expected: string) => (e: unknown) => isCutoverError(e) && e.code === expected;

/**
 * The contract of `ArtifactBlobs` (the artifacts server replicas share), run against every
 * implementation: the memory fake and PostgreSQL. `open` makes a fresh, empty one with a small
 * chunk size. `runs` bounds the property test (a real database costs a few ms per case).
 */
export function artifactBlobsContract(name: string, open: () => Promise<BlobsUnderTest>, runs = 100) {
  const withBlobs = (title: string, fn: (t: BlobsUnderTest) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const under = await open();
      try {
        await fn(under);
      } finally {
        await under.blobs.close();
        await under.cleanup();
      }
    });

  withBlobs('a put artifact is had, listed and read back byte for byte', async ({ blobs, chunkSize }) => {
    const body = Buffer.from('x'.repeat(chunkSize * 3 + 5));
    const digest = digestOf(body);
    assert.equal(await blobs.has(digest), false);
    assert.deepEqual(await blobs.put(digest, pieces(body, [7]), 1000), { size: body.length, stored: true });
    assert.equal(await blobs.has(digest), true);
    assert.deepEqual(await readAll(blobs.open(digest)), body);
    assert.deepEqual(await blobs.list(), [{ digest, size: body.length, touchedAt: 1000 }]);
  });

  withBlobs('arbitrary sizes around chunk boundaries, arriving in arbitrary pieces, round-trip byte for byte', async ({ blobs, chunkSize }) => {
    const size = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: -2, max: 2 })).map(([k, d]) => Math.max(0, k * chunkSize + d)),
      fc.integer({ min: 0, max: chunkSize * 5 }),
    );
    await fc.assert(
      fc.asyncProperty(size, fc.array(fc.integer({ min: 1, max: chunkSize * 2 + 1 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 255 }), async (n, split, seed) => {
        const body = Buffer.alloc(n);
        for (let i = 0; i < n; i++) body[i] = (seed + i * 31) & 0xff;
        const digest = digestOf(body);
        await blobs.put(digest, pieces(body, split), 1);
        assert.deepEqual(await readAll(blobs.open(digest)), body);
        assert.equal((await blobs.list()).find((a) => a.digest === digest)?.size, n);
      }),
      { numRuns: runs },
    );
  });

  withBlobs('bytes that do not hash to the digest are refused (ARTIFACT_INVALID) and nothing is kept', async ({ blobs, chunkSize }) => {
    const claimed = digestOf(Buffer.from('what was promised'));
    await assert.rejects(blobs.put(claimed, pieces(Buffer.alloc(chunkSize * 2 + 1, 1)), 1), code('ARTIFACT_INVALID'));
    assert.equal(await blobs.has(claimed), false);
    assert.deepEqual(await blobs.list(), []);
    await assert.rejects(readAll(blobs.open(claimed)), code('ARTIFACT_NOT_FOUND'));
    // The digest is free to be stored properly afterwards.
    const real = Buffer.from('what was promised');
    assert.equal((await blobs.put(claimed, pieces(real), 2)).stored, true);
    assert.deepEqual(await readAll(blobs.open(claimed)), real);
  });

  withBlobs('an upload that fails midway keeps nothing', async ({ blobs, chunkSize }) => {
    const digest = digestOf(Buffer.from('never arrives'));
    const failing = async function* () {
      yield Buffer.alloc(chunkSize * 2);
      throw new Error('client went away');
    };
    await assert.rejects(blobs.put(digest, failing, 1), /client went away/);
    assert.equal(await blobs.has(digest), false);
    assert.deepEqual(await blobs.list(), []);
  });

  withBlobs('a re-upload changes nothing but the age: the bytes are not read again', async ({ blobs, chunkSize }) => {
    const body = Buffer.alloc(chunkSize + 1, 9);
    const digest = digestOf(body);
    await blobs.put(digest, pieces(body), 10);
    const again = await blobs.put(digest, () => assert.fail('a stored artifact is not read again'), 20);
    assert.deepEqual(again, { size: body.length, stored: false });
    assert.deepEqual(await blobs.list(), [{ digest, size: body.length, touchedAt: 20 }]);
    assert.deepEqual(await readAll(blobs.open(digest)), body);
  });

  withBlobs('two puts of one digest at once store it once', async ({ blobs, chunkSize }) => {
    const body = Buffer.alloc(chunkSize * 4 + 3, 4);
    const digest = digestOf(body);
    const results = await Promise.all([blobs.put(digest, pieces(body, [3]), 1), blobs.put(digest, pieces(body, [5]), 2)]);
    assert.deepEqual(results.map((r) => r.stored).sort(), [false, true]);
    assert.deepEqual(await readAll(blobs.open(digest)), body);
    assert.equal((await blobs.list()).length, 1);
  });

  withBlobs('a zero-byte artifact is stored and read back', async ({ blobs }) => {
    const digest = digestOf(Buffer.alloc(0));
    assert.deepEqual(await blobs.put(digest, pieces(Buffer.alloc(0)), 1), { size: 0, stored: true });
    assert.deepEqual(await readAll(blobs.open(digest)), Buffer.alloc(0));
  });

  withBlobs('a chunk changed or lost at rest fails the read with ARTIFACT_DIGEST_MISMATCH', async ({ blobs, chunkSize, tamper }) => {
    const body = Buffer.alloc(chunkSize * 3, 2);
    const digest = digestOf(body);
    await blobs.put(digest, pieces(body), 1);
    await tamper(digest, 1, Buffer.alloc(chunkSize, 3));
    await assert.rejects(readAll(blobs.open(digest)), code('ARTIFACT_DIGEST_MISMATCH'));
    await tamper(digest, 1, Buffer.alloc(chunkSize - 1, 2)); // the right bytes, one short
    await assert.rejects(readAll(blobs.open(digest)), code('ARTIFACT_DIGEST_MISMATCH'));
    await tamper(digest, 2, null);
    await assert.rejects(readAll(blobs.open(digest)), code('ARTIFACT_DIGEST_MISMATCH'));
  });

  withBlobs('a copy a read found damaged is no longer had, and the next upload of the right bytes replaces it', async ({ blobs, chunkSize, tamper }) => {
    const body = Buffer.alloc(chunkSize * 2 + 3, 6);
    const digest = digestOf(body);
    await blobs.put(digest, pieces(body), 1);
    await tamper(digest, 0, Buffer.alloc(chunkSize, 7));
    assert.equal(await blobs.has(digest), true, 'damage is found by reading');
    await assert.rejects(readAll(blobs.open(digest)), code('ARTIFACT_DIGEST_MISMATCH'));
    assert.equal(await blobs.has(digest), false);
    // Wrong bytes do not replace it: it stays as it was, damaged.
    await assert.rejects(blobs.put(digest, pieces(Buffer.alloc(chunkSize, 1)), 2), code('ARTIFACT_INVALID'));
    assert.equal(await blobs.has(digest), false);
    await assert.rejects(readAll(blobs.open(digest)), code('ARTIFACT_DIGEST_MISMATCH'));
    assert.deepEqual(await blobs.put(digest, pieces(body, [5]), 3), { size: body.length, stored: true });
    assert.equal(await blobs.has(digest), true);
    assert.deepEqual(await readAll(blobs.open(digest)), body);
    assert.deepEqual(await blobs.list(), [{ digest, size: body.length, touchedAt: 3 }]);
  });

  withBlobs('remove deletes an artifact and its chunks; a missing one is fine', async ({ blobs }) => {
    const a = Buffer.from('a');
    const b = Buffer.from('b');
    await blobs.put(digestOf(a), pieces(a), 1);
    await blobs.put(digestOf(b), pieces(b), 1);
    assert.equal(await blobs.remove(digestOf(a)), true);
    assert.equal(await blobs.remove(digestOf(a)), false);
    assert.equal(await blobs.has(digestOf(a)), false);
    assert.deepEqual((await blobs.list()).map((x) => x.digest), [digestOf(b)]);
    await assert.rejects(readAll(blobs.open(digestOf(a))), code('ARTIFACT_NOT_FOUND'));
    // Stored again from scratch.
    assert.equal((await blobs.put(digestOf(a), pieces(a), 2)).stored, true);
    assert.deepEqual(await readAll(blobs.open(digestOf(a))), a);
  });

  withBlobs('malformed digests are refused before they reach the store', async ({ blobs }) => {
    for (const bad of ['sha256:../../etc/passwd', `sha256:${'A'.repeat(64)}`, "x' OR 1=1 --"]) {
      assert.equal(await blobs.has(bad), false);
      assert.equal(await blobs.remove(bad), false);
      await assert.rejects(blobs.put(bad, pieces(Buffer.from('x')), 1), code('ARTIFACT_INVALID'));
      await assert.rejects(readAll(blobs.open(bad)), code('ARTIFACT_INVALID'));
    }
  });
}
