// The router's fast path on its public port (issue 24, ADR 0030). Every accepted client
// connection starts here: its bytes are read straight off the socket and each request head goes
// through the strict parser. A plain routed request is relayed by `FastRelay` without node:http's
// request and response objects; anything else — a head the parser does not accept, or a request
// the router answers itself (unknown host, maintenance, well-known paths, holds, previews…) — is
// handed to node:http at a request boundary, and the connection stays with node:http from then on.
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { FastRelay } from './fast-relay.ts';
import type { RelayClient } from './fast-relay.ts';
import {
  HEAD_HAND_OFF,
  HEAD_INCOMPLETE,
  MAX_HEAD_BYTES,
  parseRequestHead,
  RequestHead,
} from './request-head-parser.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamRequest } from './upstream-pool.ts';

/** How the router would forward a request; filled by `FastFrontOptions.plan`. */
export class FastPlan {
  upstream: Upstream | null = null;
  /** The rewritten request header fields (`scanRequestHeaders`). */
  headers: string[] = [];
  extra: readonly string[] = [];
  htmlExtra: readonly string[] | null = null;
}

export interface FastFrontOptions {
  /**
   * Decides a parsed request: true with `out` filled when the fast path may relay it, false when
   * node:http must take the connection. Must not change any state when it returns false.
   */
  plan(head: RequestHead, socket: Socket, out: FastPlan): boolean;
  /** Gives the connection to node:http, with the bytes read and not yet parsed (a request boundary). */
  handOff(socket: Socket, bytes: Buffer | null): void;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

// Pipelined bytes buffered while an answer is in flight beyond this pause reading the socket.
const MAX_BUFFERED = 4 * MAX_HEAD_BYTES;
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n';

function noop(): void {}

/** One client connection while the fast path owns it. */
class FastConnection implements RelayClient {
  readonly front: FastFront;
  readonly socket: Socket;
  keepAlive = true;
  http10 = false;
  relay: FastRelay | null = null;
  /** Bytes read and not yet parsed (the start of the next request head). */
  buf: Buffer | null = null;
  /** Request body bytes still to come from the client. */
  bodyLeft = 0;
  body: Readable | null = null;
  /** performance.now() of the first byte of the head being read, of the request, of idleness. */
  headFrom = 0;
  requestFrom = 0;
  idleFrom: number;
  gone = false;
  readonly onData = (chunk: Buffer): void => this.#onData(chunk);
  readonly onEnd = (): void => this.#onEnd();
  readonly onClose = (): void => this.#onClose();

  constructor(front: FastFront, socket: Socket) {
    this.front = front;
    this.socket = socket;
    this.idleFrom = performance.now();
  }

  get keepAliveHeader(): string {
    return this.front.keepAliveHeader;
  }

  closing(): boolean {
    return this.front.closing;
  }

  #onData(chunk: Buffer): void {
    if (this.bodyLeft > 0) chunk = this.#feedBody(chunk);
    if (chunk.length === 0) return;
    const partHead = this.buf !== null && this.relay === null && this.bodyLeft === 0;
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.relay === null && this.bodyLeft === 0) {
      // The head read so far was incomplete, and only a line feed can complete it: bytes without
      // one are kept unparsed, so a head sent a byte at a time costs a parse per line, not one of
      // up to 8 KiB per byte (a cheap way to make the router burn CPU otherwise).
      if (partHead && chunk.indexOf(10) === -1 && this.buf.length < MAX_HEAD_BYTES) return;
      this.next();
    } else if (this.buf.length > MAX_BUFFERED) this.socket.pause();
  }

  /** Passes body bytes on; returns what follows the body. */
  #feedBody(chunk: Buffer): Buffer {
    const n = Math.min(chunk.length, this.bodyLeft);
    this.bodyLeft -= n;
    const body = this.body;
    // body null: the answer came before the whole body; the rest is read and dropped.
    if (body !== null) {
      if (!body.push(n === chunk.length ? chunk : chunk.subarray(0, n))) this.socket.pause();
      if (this.bodyLeft === 0) {
        body.push(null);
        this.body = null;
      }
    }
    if (this.bodyLeft === 0 && this.relay === null) this.idleFrom = performance.now();
    return n === chunk.length ? chunk.subarray(chunk.length) : chunk.subarray(n);
  }

  /** Parses and serves the next buffered request, if whole; only called at a request boundary. */
  next(): void {
    const buf = this.buf;
    if (buf === null || this.gone) return;
    if (this.headFrom === 0) this.headFrom = performance.now();
    const head = this.front.head;
    const end = parseRequestHead(buf, 0, buf.length, head);
    if (end === HEAD_INCOMPLETE) return;
    const plan = this.front.plan;
    if (end === HEAD_HAND_OFF || !this.front.options.plan(head, this.socket, plan)) return this.#handOff();
    const upstream = plan.upstream as Upstream;
    this.buf = end === buf.length ? null : buf.subarray(end);
    this.requestFrom = this.headFrom;
    this.headFrom = 0;
    this.keepAlive = head.keepAlive;
    this.http10 = head.http10;
    let body: Readable | null = null;
    if (head.contentLength > 0) {
      const socket = this.socket;
      body = new Readable({ read: () => void socket.resume() });
      this.body = body;
      this.bodyLeft = head.contentLength;
      const rest = this.buf;
      this.buf = null;
      if (rest !== null) {
        const after = this.#feedBody(rest);
        if (after.length > 0) this.buf = after;
      }
    }
    const opts: UpstreamRequest = { path: head.target, method: head.method, headers: plan.headers, body };
    const relay = new FastRelay(this, upstream, opts, plan.extra, plan.htmlExtra, performance.now());
    this.relay = relay;
    upstream.inFlight++;
    upstream.counters.requests++;
    upstream.pool.dispatch(opts, relay);
  }

  #handOff(): void {
    const socket = this.socket;
    const bytes = this.buf;
    this.buf = null;
    this.#forget(true);
    this.front.options.handOff(socket, bytes);
  }

  /**
   * Lets go of the connection: to node:http (paused, so no byte is lost in between), or to close
   * it (still reading, bytes dropped, so the client's FIN is seen and the socket closes; a paused
   * socket would stay half-open forever).
   */
  #forget(handOff = false): void {
    this.gone = true;
    const socket = this.socket;
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onClose);
    this.front.connections.delete(this);
    if (handOff) {
      socket.removeListener('error', noop);
      socket.pause();
    } else socket.resume();
  }

  responseDone(close: boolean): void {
    this.relay = null;
    if (close || !this.keepAlive || this.front.closing) {
      this.#forget();
      // Unread body bytes would make the kernel answer our FIN with a reset; ending the write side
      // lets the client read the whole answer first.
      this.socket.end();
      return;
    }
    if (this.body !== null) {
      // The app answered before the whole body arrived: the rest is read and dropped.
      this.body.push(null);
      this.body = null;
    }
    if (this.bodyLeft === 0) this.idleFrom = performance.now();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.bodyLeft === 0 && this.buf !== null) this.next();
  }

  // As node:http (without httpAllowHalfOpen): the client's FIN ends the exchange, an answer in
  // flight included, and our side of the connection is ended too.
  #onEnd(): void {
    const relay = this.relay;
    this.#forget();
    this.body?.destroy(new Error('client ended the connection'));
    relay?.onClientClose();
    this.socket.end();
  }

  #onClose(): void {
    this.gone = true;
    this.front.connections.delete(this);
    if (this.body !== null) this.body.destroy(new Error('client closed the connection'));
    if (this.relay !== null) this.relay.onClientClose();
  }

  /** Applies the client timeouts (node:http's headersTimeout, requestTimeout, keepAliveTimeout). */
  check(now: number): void {
    const o = this.front.options;
    if (this.relay === null && this.bodyLeft === 0) {
      if (this.buf === null) {
        // A connection that never sent a byte waits for its first head, as in node:http.
        const limit = this.socket.bytesRead === 0 ? o.headersTimeoutMs : o.idleTimeoutMs;
        if (now - this.idleFrom > limit) this.socket.destroy();
      } else if (now - this.headFrom > o.headersTimeoutMs) this.#timeout();
    } else if (this.bodyLeft > 0 && now - this.requestFrom > o.requestTimeoutMs) {
      if (this.relay === null || !this.relay.headersSent) this.#timeout();
      else this.socket.destroy();
    }
  }

  #timeout(): void {
    this.#forget();
    this.relay?.onClientClose();
    this.body?.destroy(new Error('client request timed out'));
    this.socket.end(REQUEST_TIMEOUT, 'latin1');
    this.socket.destroySoon();
  }

  /** Closing: a connection between requests goes now. */
  closeIfIdle(): void {
    // One that never sent a byte is left to drainServer's grace for fresh connections, as node:http's are.
    if (this.socket.bytesRead === 0) return;
    if (this.relay === null && this.bodyLeft === 0 && this.buf === null) {
      this.#forget();
      this.socket.end();
    }
  }

  /** Closing, past the stream grace: an answer still streaming is ended. */
  endStream(): void {
    const relay = this.relay;
    if (relay !== null && relay.headersSent) relay.endStream();
  }
}

/** The fast path: owns client connections until they are handed to node:http or close. */
export class FastFront {
  readonly options: FastFrontOptions;
  readonly connections = new Set<FastConnection>();
  readonly keepAliveHeader: string;
  /** Reused by every request: parsing and planning are synchronous. */
  readonly head = new RequestHead();
  readonly plan = new FastPlan();
  closing = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: FastFrontOptions) {
    this.options = options;
    this.keepAliveHeader = `keep-alive: timeout=${Math.floor(options.idleTimeoutMs / 1000)}\r\n`;
  }

  /** Takes a newly accepted client connection (plain TCP, or TLS already decrypted). */
  accept(socket: Socket): void {
    const conn = new FastConnection(this, socket);
    this.connections.add(conn);
    socket.on('data', conn.onData);
    socket.on('end', conn.onEnd);
    socket.on('close', conn.onClose);
    // 'close' follows every error; the answer in flight is aborted there.
    socket.on('error', noop);
    this.#arm();
  }

  // One timer for every connection, like node:http's connectionsCheckingInterval; a quarter of the
  // shortest timeout keeps each within 25 % of its setting.
  #arm(): void {
    if (this.#timer !== null) return;
    const o = this.options;
    const every = Math.max(
      25,
      Math.floor(Math.min(o.headersTimeoutMs, o.requestTimeoutMs, o.idleTimeoutMs) / 4),
    );
    this.#timer = setInterval(
      () => {
        if (this.connections.size === 0) {
          clearInterval(this.#timer as NodeJS.Timeout);
          this.#timer = null;
          return;
        }
        const now = performance.now();
        for (const conn of this.connections) conn.check(now);
      },
      Math.min(every, 30_000),
    );
    this.#timer.unref();
  }

  /** The router is closing: answers not yet begun say `Connection: close`, none is kept alive. */
  close(): void {
    this.closing = true;
  }

  closeIdle(): void {
    for (const conn of this.connections) conn.closeIfIdle();
  }

  endStreams(): void {
    for (const conn of this.connections) conn.endStream();
  }

  destroyAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
