import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clientCloseGoingAway, FrameTracker, SERVER_CLOSE_GOING_AWAY } from './ws-frames.ts';

function frame(payloadLength: number, masked: boolean): Buffer {
  const header: number[] = [0x82];
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) header.push(maskBit | payloadLength);
  else if (payloadLength < 65536) header.push(maskBit | 126, payloadLength >> 8, payloadLength & 0xff);
  else {
    header.push(maskBit | 127, 0, 0, 0, 0);
    header.push(
      (payloadLength >>> 24) & 0xff,
      (payloadLength >>> 16) & 0xff,
      (payloadLength >>> 8) & 0xff,
      payloadLength & 0xff,
    );
  }
  if (masked) header.push(1, 2, 3, 4);
  return Buffer.concat([Buffer.from(header), Buffer.alloc(payloadLength, 7)]);
}

describe('FrameTracker', () => {
  it('finds every frame boundary however the stream is cut into chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 60_000, max: 70_000 })),
            fc.boolean(),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const parts = frames.map(([len, masked]) => frame(len, masked));
          const boundaries = new Set<number>();
          let offset = 0;
          for (const p of parts) boundaries.add((offset += p.length));
          const stream = Buffer.concat(parts);
          const tracker = new FrameTracker();
          let at = 0;
          let cut = 0;
          while (at < stream.length) {
            const size = cuts[cut++ % cuts.length] as number;
            const chunk = stream.subarray(at, at + size);
            // Alternate the two ways of feeding: both must agree on where frames end.
            if (cut % 2 === 0) {
              tracker.feed(chunk);
              at += chunk.length;
            } else {
              const end = tracker.feedToBoundary(chunk);
              if (end === -1) at += chunk.length;
              else {
                at += end;
                assert.ok(
                  end === 0 ? boundaries.has(at) || at === 0 : boundaries.has(at),
                  `boundary at ${at}`,
                );
              }
            }
            assert.equal(tracker.atBoundary, boundaries.has(at) || at === 0, `atBoundary at ${at}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('builds close frames with code 1001, masked only towards the app', () => {
    assert.deepEqual([...SERVER_CLOSE_GOING_AWAY], [0x88, 0x02, 0x03, 0xe9]);
    const masked = clientCloseGoingAway(Buffer.from([1, 2, 3, 4]));
    assert.equal(masked[1], 0x82);
    assert.deepEqual([(masked[6] as number) ^ 1, (masked[7] as number) ^ 2], [0x03, 0xe9]);
  });
});
