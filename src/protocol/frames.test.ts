import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from './frames.ts';
import type { Frame } from './frames.ts';

const frames = fc.array(
  fc.oneof(
    fc.record({ t: fc.constant('ping' as const), at: fc.integer() }),
    fc.record({ t: fc.constant('cancel' as const), id: fc.nat() }),
    fc.record({
      t: fc.constant('call' as const),
      id: fc.nat(),
      m: fc.constantFrom('instance.flip' as const, 'agent.state' as const),
      timeoutMs: fc.integer({ min: 1, max: 1e6 }),
      request: fc.dictionary(fc.string(), fc.string()),
    }),
    fc.record({
      t: fc.constant('answer' as const),
      id: fc.nat(),
      answer: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
    }),
  ),
  { maxLength: 20 },
);

test('frames come out as they went in, however the bytes are cut into chunks', () => {
  fc.assert(
    fc.property(frames, fc.array(fc.nat(), { maxLength: 30 }), (sent: Frame[], cuts) => {
      const bytes = Buffer.concat(sent.map(encodeFrame));
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const decoder = new FrameDecoder();
      const got: Frame[] = [];
      let from = 0;
      for (const at of [...points, bytes.length]) {
        got.push(...decoder.push(bytes.subarray(from, at)));
        from = at;
      }
      assert.deepEqual(got, JSON.parse(JSON.stringify(sent)));
    }),
  );
});

test('a frame longer than the limit, one that is not JSON and one of no known shape end the session', () => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameDecoder().push(head), RangeError);
  const notJson = Buffer.from('{nope');
  const framed = Buffer.concat([Buffer.from([0, 0, 0, notJson.length]), notJson]);
  assert.throws(() => new FrameDecoder().push(framed), /not JSON/);
  const odd = Buffer.from(
    JSON.stringify({ t: 'call', id: 1, m: 'no.such.message', timeoutMs: 1, request: {} }),
  );
  assert.throws(
    () => new FrameDecoder().push(Buffer.concat([Buffer.from([0, 0, 0, odd.length]), odd])),
    /no known shape/,
  );
  assert.throws(() => encodeFrame({ t: 'answer', id: 1, answer: 'x'.repeat(MAX_FRAME_BYTES) }), RangeError);
});
