// An incremental HTTP/1.1 *response* parser for the router's upstream connections (issue 24): it
// replaced undici, whose per-request cost was a third of the router's CPU. It parses what the
// router's own slot processes answer, never what clients send (client requests are parsed by
// node:http's llhttp), and it is strict: anything ambiguous about where a response ends is an
// error, and the connection is closed rather than reused (RFC 9112 §6.3, §11.2).
// The head is parsed once it is complete; body bytes are passed on as slices of the socket's
// chunks (no copy). Chunked bodies are decoded: the client side re-frames them.

/** Largest response head accepted (status line and header fields). */
export const MAX_HEAD_BYTES = 64 * 1024;

/** Where the parsed response goes. */
export interface ResponseSink {
  /** Status, header fields as [name, value, …] (latin1, as sent), reason phrase. */
  onHead(status: number, headers: string[], reason: string): void;
  onBody(chunk: Buffer): void;
  /** The response ended; `reusable` is false when the connection cannot carry another one. */
  onEnd(reusable: boolean): void;
}

/** A response the parser refuses; the connection must be closed. */
export class ResponseParseError extends Error {
  readonly code = 'UPSTREAM_BAD_RESPONSE';
}

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const BARE = /\0|\r(?!\n)|(?<!\r)\n/;
const HEX = /^[0-9A-Fa-f]{1,15}$/;

/** What the head says about framing and keep-alive. */
interface Framing {
  length: number;
  chunked: boolean;
  close: boolean;
  keepAliveMs: number;
}

function lastToken(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma < 0 ? value : value.slice(comma + 1)).trim().toLowerCase();
}

// Token lists tested without splitting them: every response of a Node app carries
// `Connection: keep-alive`, so this runs on each one.
const CLOSE_TOKEN = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;
const KEEP_ALIVE_TOKEN = /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/i;
const KEEP_ALIVE_TIMEOUT = /timeout=(\d+)/i;

/** Reads framing fields; throws on the ambiguous ones (RFC 9112 §6.3 items 3–5). */
function framingOf(headers: string[], http10: boolean): Framing {
  let length = -1;
  let te = '';
  let connection = '';
  let keepAliveMs = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const value = headers[i + 1] as string;
    const n = name.length;
    if (n === 14 && name.toLowerCase() === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) throw new ResponseParseError(`invalid Content-Length "${value}"`);
      const v = Number(value);
      if (length >= 0 && v !== length) throw new ResponseParseError('conflicting Content-Length fields');
      length = v;
    } else if (n === 17 && name.toLowerCase() === 'transfer-encoding') {
      te = te === '' ? value : `${te}, ${value}`;
    } else if (n === 10 && name.toLowerCase() === 'connection') {
      connection = connection === '' ? value : `${connection}, ${value}`;
    } else if (n === 10 && name.toLowerCase() === 'keep-alive') {
      const m = KEEP_ALIVE_TIMEOUT.exec(value);
      if (m) keepAliveMs = Number(m[1]) * 1000;
    }
  }
  if (te !== '' && length >= 0) throw new ResponseParseError('both Transfer-Encoding and Content-Length');
  const chunked = te !== '' && lastToken(te) === 'chunked';
  // A transfer coding other than chunked last: the body runs until the connection closes.
  const close =
    CLOSE_TOKEN.test(connection) || (http10 && !KEEP_ALIVE_TOKEN.test(connection)) || (te !== '' && !chunked);
  return { length, chunked, close, keepAliveMs };
}

/** One connection's response parser; `expect()` before each request's response. */
export class ResponseParser {
  readonly #sink: ResponseSink;
  #state = DONE;
  #head: Buffer | null = null;
  #left = 0;
  #close = false;
  #noBody = false;
  #line = '';
  /** The last head's `Keep-Alive: timeout=` in ms (-1: none). */
  keepAliveMs = -1;
  /** The status of the last head (a 101 ends parsing: the socket is the caller's). */
  status = 0;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** Readies the parser for the response to a request; `head` for HEAD requests (no body). */
  expect(headRequest: boolean): void {
    this.#state = HEAD;
    this.#head = null;
    this.#noBody = headRequest;
    this.status = 0;
  }

  /** True while a response is expected or being read. */
  get busy(): boolean {
    return this.#state !== DONE;
  }

  /** True while the body runs until the connection closes. */
  get untilClose(): boolean {
    return this.#state === UNTIL_CLOSE;
  }

  /** Feeds bytes; returns how many were used (less than all only after a 101 or the end). */
  execute(chunk: Buffer): number {
    let at = 0;
    while (at < chunk.length && this.#state !== DONE) {
      if (this.#state === HEAD) at = this.#readHead(chunk, at);
      else if (this.#state === LENGTH) at = this.#readLength(chunk, at);
      else if (this.#state === UNTIL_CLOSE) {
        this.#sink.onBody(at === 0 ? chunk : chunk.subarray(at));
        at = chunk.length;
      } else at = this.#readChunked(chunk, at);
      if (this.status === 101) return at;
    }
    return at;
  }

  /** The connection ended: completes a body that runs until close, else it is an error. */
  finish(): boolean {
    if (this.#state !== UNTIL_CLOSE) return false;
    this.#state = DONE;
    this.#sink.onEnd(false);
    return true;
  }

  #readHead(chunk: Buffer, at: number): number {
    const prev = this.#head;
    const data =
      prev === null ? (at === 0 ? chunk : chunk.subarray(at)) : Buffer.concat([prev, chunk.subarray(at)]);
    const end = data.indexOf('\r\n\r\n', prev === null ? 0 : Math.max(0, prev.length - 3), 'latin1');
    if (end < 0) {
      if (data.length > MAX_HEAD_BYTES) throw new ResponseParseError('response head too large');
      this.#head = prev === null ? Buffer.from(data) : data;
      return chunk.length;
    }
    if (end > MAX_HEAD_BYTES) throw new ResponseParseError('response head too large');
    this.#head = null;
    const used = end + 4 - (prev === null ? 0 : prev.length);
    this.#onHead(data.toString('latin1', 0, end));
    return at + used;
  }

  #onHead(text: string): void {
    // Lines are cut at CRLF; a CR, LF or NUL left anywhere is a bare one (RFC 9112 §2.2).
    if (BARE.test(text)) throw new ResponseParseError('bare CR, LF or NUL in the response head');
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    const statusLine = text.slice(0, eol);
    const m = STATUS_LINE.exec(statusLine);
    if (m === null) throw new ResponseParseError('invalid status line');
    const status = Number(m[2]);
    if (status < 100) throw new ResponseParseError('invalid status code');
    const headers: string[] = [];
    let at = eol + 2;
    while (at < text.length) {
      let end = text.indexOf('\r\n', at);
      if (end < 0) end = text.length;
      const colon = text.indexOf(':', at);
      // No obs-fold, no whitespace before the colon (RFC 9112 §5.1, §5.2).
      if (colon <= at || colon > end) throw new ResponseParseError('invalid header line');
      const name = text.slice(at, colon);
      if (!TOKEN.test(name)) throw new ResponseParseError('invalid header name');
      headers.push(name, text.slice(colon + 1, end).trim());
      at = end + 2;
    }
    const framing = framingOf(headers, m[1] === '0');
    this.status = status;
    this.keepAliveMs = framing.keepAliveMs;
    if (status < 200) {
      // 101 hands the socket over; other 1xx are interim: the final response follows.
      this.#sink.onHead(status, headers, m[3] ?? '');
      return;
    }
    this.#close = framing.close;
    this.#sink.onHead(status, headers, m[3] ?? '');
    if (this.#noBody || status === 204 || status === 304) this.#end();
    else if (framing.chunked) {
      this.#state = CHUNK_SIZE;
      this.#line = '';
    } else if (framing.length >= 0) {
      this.#left = framing.length;
      if (framing.length === 0) this.#end();
      else this.#state = LENGTH;
    } else {
      this.#close = true;
      this.#state = UNTIL_CLOSE;
    }
  }

  #end(): void {
    this.#state = DONE;
    this.#sink.onEnd(!this.#close);
  }

  #readLength(chunk: Buffer, at: number): number {
    const n = Math.min(this.#left, chunk.length - at);
    this.#sink.onBody(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
    this.#left -= n;
    if (this.#left === 0) this.#end();
    return at + n;
  }

  /** Reads one CRLF-terminated line into `#line`; returns the new offset, or -1 if incomplete. */
  #readLine(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(10, at);
    if (lf < 0) {
      this.#line += chunk.toString('latin1', at);
      if (this.#line.length > 4096) throw new ResponseParseError('chunk line too long');
      return -1;
    }
    this.#line += chunk.toString('latin1', at, lf + 1);
    return lf + 1;
  }

  #readChunked(chunk: Buffer, at: number): number {
    if (this.#state === CHUNK_DATA) {
      const n = Math.min(this.#left, chunk.length - at);
      this.#sink.onBody(chunk.subarray(at, at + n));
      this.#left -= n;
      if (this.#left === 0) {
        this.#state = CHUNK_DATA_END;
        this.#line = '';
      }
      return at + n;
    }
    const next = this.#readLine(chunk, at);
    if (next < 0) return chunk.length;
    const line = this.#line;
    this.#line = '';
    if (!line.endsWith('\r\n')) throw new ResponseParseError('bare LF in chunked framing');
    const content = line.slice(0, -2);
    if (this.#state === CHUNK_DATA_END) {
      if (content !== '') throw new ResponseParseError('chunk data longer than its size');
      this.#state = CHUNK_SIZE;
    } else if (this.#state === CHUNK_SIZE) {
      const semi = content.indexOf(';');
      const size = (semi < 0 ? content : content.slice(0, semi)).trim();
      if (!HEX.test(size)) throw new ResponseParseError('invalid chunk size');
      this.#left = parseInt(size, 16);
      this.#state = this.#left === 0 ? TRAILERS : CHUNK_DATA;
    } else if (content === '') this.#end(); // TRAILERS: an empty line ends them; fields are dropped
    return next;
  }
}
