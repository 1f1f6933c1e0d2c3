import { Transform } from 'node:stream';
import type { Readable, TransformCallback } from 'node:stream';

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
  /** The client's request it reads (to drop the rest of an oversized upload). */
  readonly source: Readable;

  constructor(limit: number, source: Readable) {
    super();
    this.#left = limit;
    this.source = source;
  }

  /**
   * The app had already begun its answer when the body ran over: the status cannot become 413
   * any more, and ending the answer cleanly would pass a truncated exchange off as a success. So
   * the answer is left unterminated, the rest of the upload is read and dropped (closing with
   * unread bytes would make the kernel send a reset), and the connection is then closed with a
   * FIN: the client sees an incomplete response, never a 200 followed by a reset.
   */
  closeAfterUpload(socket: { end(): void } | null): void {
    const source = this.source;
    source.unpipe(this);
    const close = (): void => socket?.end();
    if (source.readableEnded) close();
    else {
      source.once('end', close);
      source.resume();
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) {
      this.exceeded = true;
      callback(BODY_TOO_LARGE);
    } else callback(null, chunk);
  }
}
