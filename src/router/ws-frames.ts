// WebSocket framing, just enough for a proxy to close a tunnel politely (RFC 6455 §5.2, §5.5.1).
// A close frame may only be injected between frames: writing one in the middle of a frame the app
// is sending would corrupt the stream, so each tunnel direction tracks where frames end without
// copying payloads. Control frames may be injected between the fragments of a message (§5.4).

/** Close code 1001 "going away" (RFC 6455 §7.4.1): the server is leaving, reconnect elsewhere. */
export const GOING_AWAY = 1001;

/** A server-to-client close frame with code 1001 (server frames are never masked, §5.1). */
export const SERVER_CLOSE_GOING_AWAY: Buffer = Buffer.from([0x88, 0x02, GOING_AWAY >> 8, GOING_AWAY & 0xff]);

/** A client-to-server close frame with code 1001; clients must mask every frame (§5.3). */
export function clientCloseGoingAway(mask: Buffer): Buffer {
  return Buffer.from([
    0x88,
    0x82,
    mask[0] ?? 0,
    mask[1] ?? 0,
    mask[2] ?? 0,
    mask[3] ?? 0,
    (GOING_AWAY >> 8) ^ (mask[0] ?? 0),
    (GOING_AWAY & 0xff) ^ (mask[1] ?? 0),
  ]);
}

/**
 * Follows frame boundaries in one direction of a WebSocket byte stream. Only frame headers are
 * read (at most 14 bytes each); payload bytes are skipped by count, so a large frame costs O(1)
 * per chunk.
 */
export class FrameTracker {
  /** Payload bytes of the current frame still to come. */
  #payload = 0;
  /** Bytes of the current frame header seen so far (0 at a boundary or inside a payload). */
  #headerSeen = 0;
  /** Full length of the current header once its first two bytes are known. */
  #headerLength = 2;
  readonly #header = Buffer.alloc(14);

  /** True when the bytes seen so far end exactly where a frame ends (or nothing was seen). */
  get atBoundary(): boolean {
    return this.#payload === 0 && this.#headerSeen === 0;
  }

  /** Accounts for a whole chunk. */
  feed(chunk: Buffer): void {
    this.#advance(chunk, false);
  }

  /**
   * Accounts for bytes of `chunk` up to the first frame boundary and returns how many that is,
   * or -1 when the chunk ends before the current frame does (all of it was accounted for).
   * At a boundary already it returns 0.
   */
  feedToBoundary(chunk: Buffer): number {
    if (this.atBoundary) return 0;
    return this.#advance(chunk, true);
  }

  #advance(chunk: Buffer, stopAtBoundary: boolean): number {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#payload > 0) {
        const take = Math.min(this.#payload, n - i);
        this.#payload -= take;
        i += take;
        if (this.#payload === 0 && stopAtBoundary) return i;
        continue;
      }
      const header = this.#header;
      header[this.#headerSeen++] = chunk[i++] as number;
      if (this.#headerSeen === 2) {
        const second = header[1] as number;
        const len7 = second & 0x7f;
        this.#headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (second & 0x80 ? 4 : 0);
      }
      if (this.#headerSeen >= 2 && this.#headerSeen === this.#headerLength) {
        const len7 = (header[1] as number) & 0x7f;
        this.#payload =
          len7 === 126
            ? header.readUInt16BE(2)
            : len7 === 127
              ? header.readUInt32BE(2) * 0x1_0000_0000 + header.readUInt32BE(6)
              : len7;
        this.#headerSeen = 0;
        if (this.#payload === 0 && stopAtBoundary) return i;
      }
    }
    return stopAtBoundary ? -1 : n;
  }
}
