import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/** Reason a `BodyLimit` fails with; the proxy answers 413 for it. */
export const BODY_TOO_LARGE = new Error('the request body is larger than the router accepts');

/**
 * Passes a request body through while counting it, and fails once it runs over `limit` bytes.
 * Only bodies sent without a Content-Length (chunked) need it: Node's parser already stops a body
 * at its declared length, and a declared length over the limit is refused before reading.
 */
export class BodyLimit extends Transform {
  #left: number;
  exceeded = false;

  constructor(limit: number) {
    super();
    this.#left = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) {
      this.exceeded = true;
      callback(BODY_TOO_LARGE);
    } else callback(null, chunk);
  }
}
