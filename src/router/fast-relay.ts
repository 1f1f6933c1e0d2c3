import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { rawErrorResponse } from './error-response.ts';
import { responseHeaders } from './headers.ts';
import { errorFor, UpstreamRelay } from './proxy-handler.ts';
import type { Upstream } from './upstream.ts';
import { UpstreamError } from './upstream-pool.ts';
import type { UpstreamHandler, UpstreamRequest } from './upstream-pool.ts';

/** What the relay needs of the client connection it answers on. */
export interface RelayClient {
  readonly socket: Socket;
  /** The client's request allows another one after it (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** The client spoke HTTP/1.0: no chunked framing (RFC 9112 §7.1). */
  readonly http10: boolean;
  /** The router is closing: this answer says `Connection: close`. */
  closing(): boolean;
  /** `Keep-Alive: timeout=N` of a keep-alive answer, like node:http's. */
  readonly keepAliveHeader: string;
  /** The answer is complete on the wire; `close` when the connection must not carry another. */
  responseDone(close: boolean): void;
}

let dateSecond = -1;
let dateValue = '';

// node:http adds a Date to every answer that lacks one (RFC 9110 §6.6.1); computed once a second.
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

// Field values and reason phrases node:http lets through (RFC 9110 §5.5: field-vchar, SP, HTAB, obs-text).
const INVALID_TEXT = /[^\t\x20-\x7e\x80-\xff]/;

/** What the response head says about the body that follows. */
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;
const NONE = 4;

/**
 * The fast path's `ProxyHandler`: relays one upstream response straight onto the client's raw
 * socket. The head is serialised by hand and written together with the first body chunk (one
 * write for a small answer); bodies without a length are re-chunked (HTTP/1.1 clients) or end
 * with the connection (HTTP/1.0). Backpressure, the single retry of a safe request, the counters
 * and the error answers are those of `ProxyHandler`.
 */
export class FastRelay extends UpstreamRelay implements UpstreamHandler {
  readonly client: RelayClient;
  /** The head has been built (whether or not it is on the wire yet). */
  headersSent = false;
  #pending: string | null = null;
  #framing = NONE;
  #close = false;

  constructor(
    client: RelayClient,
    upstream: Upstream,
    opts: UpstreamRequest,
    extra: readonly string[],
    htmlExtra: readonly string[] | null,
    started: number,
  ) {
    super(upstream, opts, extra, htmlExtra, started);
    this.client = client;
  }

  onHeaders(status: number, rawHeaders: string[], resume: () => void, statusMessage: string): boolean {
    this.resume = resume;
    this.upstream.counters.response(status, performance.now() - this.started);
    const fields = responseHeaders(rawHeaders, this.extra, this.htmlExtra);
    const client = this.client;
    let head = `HTTP/1.1 ${status} ${statusMessage || STATUS_CODES[status] || 'unknown'}\r\n`;
    let length = false;
    let date = false;
    if (INVALID_TEXT.test(statusMessage))
      throw new UpstreamError('invalid status message', 'UPSTREAM_BAD_RESPONSE');
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i] as string;
      const value = fields[i + 1] as string;
      // What node:http's writeHead refuses (ERR_INVALID_CHAR) is refused here too: the request
      // fails with 502, as on the node:http path, instead of passing control bytes to the client.
      if (INVALID_TEXT.test(value))
        throw new UpstreamError(`invalid value of ${name}`, 'UPSTREAM_BAD_RESPONSE');
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      else if (name.length === 4 && name.toLowerCase() === 'date') date = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!date) head += `date: ${httpDate()}\r\n`;
    const noBody = this.opts.method === 'HEAD' || status === 204 || status === 304;
    if (noBody) this.#framing = NONE;
    else if (length) this.#framing = LENGTH;
    else if (client.http10) this.#framing = UNTIL_CLOSE;
    else {
      this.#framing = CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    }
    // As node:http: an HTTP/1.0 client's connection is kept only when the answer has a length.
    this.#close = !client.keepAlive || (client.http10 && !length) || client.closing();
    head += this.#close
      ? 'connection: close\r\n\r\n'
      : `connection: keep-alive\r\n${client.keepAliveHeader}\r\n`;
    this.#pending = head;
    this.headersSent = true;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.clientGone || chunk.length === 0) return true;
    const socket = this.client.socket;
    socket.cork();
    if (this.#pending !== null) {
      socket.write(this.#pending, 'latin1');
      this.#pending = null;
    }
    if (this.#framing === CHUNKED) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      socket.write('\r\n', 'latin1');
    } else socket.write(chunk);
    socket.uncork();
    if (!socket.writableNeedDrain) return true;
    socket.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.finish();
    if (this.clientGone) return;
    this.#end();
  }

  #end(): void {
    const tail = this.#framing === CHUNKED ? '0\r\n\r\n' : '';
    const head = this.#pending ?? '';
    this.#pending = null;
    if (head !== '' || tail !== '') this.client.socket.write(head + tail, 'latin1');
    this.client.responseDone(this.#close);
  }

  onError(err: Error): void {
    if (this.retryOnce(err, this.headersSent)) return;
    this.finish();
    if (this.clientGone) return;
    if (this.headersSent) {
      // As in ProxyHandler: a stream the router ends (its slot drains) gets its terminator so an
      // EventSource reconnects; an app that failed mid-answer leaves only a cut connection.
      if (this.upstream.draining && this.#framing === CHUNKED) this.#end();
      else this.client.socket.destroy();
      return;
    }
    const error = errorFor(err, this.upstream);
    if (error.status === 502 || error.status === 504) this.upstream.counters.failed();
    this.client.socket.write(rawErrorResponse(error), 'latin1');
    this.client.responseDone(true);
  }

  /** Ends an answer whose head is out without waiting for the app (the router is closing). */
  endStream(): void {
    if (this.done) return;
    this.onClientClose();
    this.finish();
    if (this.#framing === CHUNKED) {
      this.#close = true;
      this.#end();
    } else this.client.socket.destroy();
  }

}
