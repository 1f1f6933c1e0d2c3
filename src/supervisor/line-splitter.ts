import { StringDecoder } from 'node:string_decoder';

/** A line longer than this is emitted in pieces, so an app printing without newlines cannot grow memory. */
export const MAX_LINE_LENGTH = 16 * 1024;

/**
 * Turns a byte stream into lines: splits on `\n` (dropping a trailing `\r`), keeps a partial
 * line until its end arrives, and decodes UTF-8 across chunk boundaries.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #onLine: (line: string) => void;
  #partial = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feeds a chunk; calls `onLine` for every line it completes. */
  push(chunk: Buffer | string): void {
    const text = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#emit(text.slice(start, nl));
      start = nl + 1;
    }
    let rest = text.slice(start);
    while (rest.length > MAX_LINE_LENGTH) {
      this.#onLine(rest.slice(0, MAX_LINE_LENGTH));
      rest = rest.slice(MAX_LINE_LENGTH);
    }
    this.#partial = rest;
  }

  /** Emits what is left as a last line (the stream ended without a newline). */
  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest.length > 0) this.#emit(rest);
  }

  #emit(line: string): void {
    this.#onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
