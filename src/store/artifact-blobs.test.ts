import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rechunk } from './artifact-blobs.ts';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return out;
}

test('rechunk: pieces of exactly the chunk size, the last shorter, none empty, the bytes unchanged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), fc.integer({ min: 1, max: 17 }), async (parts, size) => {
      const input = Buffer.concat(parts.map((p) => Buffer.from(p)));
      const out = await collect(rechunk((async function* () {
        yield* parts;
      })(), size));
      assert.deepEqual(Buffer.concat(out), input);
      assert.equal(out.length, Math.ceil(input.length / size));
      out.forEach((c, i) => assert.equal(c.length, i < out.length - 1 ? size : input.length - size * (out.length - 1)));
    }),
    { numRuns: 300 },
  );
});

test('rechunk: a piece kept by the caller is not changed when the source reuses its buffer', async () => {
  const shared = Buffer.alloc(4);
  const source = async function* () {
    for (const v of [1, 2, 3]) {
      shared.fill(v);
      yield shared;
    }
  };
  const out = await collect(rechunk(source(), 3));
  assert.deepEqual(Buffer.concat(out), Buffer.from([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]));
});

test('rechunk refuses a chunk size that is not a positive integer', async () => {
  await assert.rejects(collect(rechunk((async function* () {})(), 0)), RangeError);
});
