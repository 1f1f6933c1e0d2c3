// The router's HTTP/1.1 client for one slot process: keep-alive connections over `net`, one
// request at a time on each (no pipelining), requests queued when all are busy. It replaced
// undici's Pool (issue 24): measured in the pinned benchmark, undici's per-request work (request
// validation, wasm parser callbacks, its timers) was about a third of the router's CPU, and its
// import alone ~30 MiB of the agent's memory. What it relays was parsed by node:http already, so
// requests are written as one latin1 string; responses go through `ResponseParser`.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser } from './response-parser.ts';
import type { ResponseSink } from './response-parser.ts';

/** One request to relay: what node:http parsed from the client, with the router's header rewrite. */
export interface UpstreamRequest {
  path: string;
  method: string;
  /** Header fields as [name, value, …]. */
  headers: string[];
  body: Readable | null;
  /** Set for an upgrade request: the protocol asked for (e.g. `websocket`). */
  upgrade?: string;
}

/** Receives one response. Every dispatched request ends in exactly one of onComplete, onError, onUpgrade. */
export interface UpstreamHandler {
  /** Called at dispatch with the function that aborts the request (its connection is closed). */
  onConnect(abort: (err?: Error) => void): void;
  /** The final response head (interim 1xx answers are skipped). Body bytes follow. */
  onHeaders(status: number, headers: string[], resume: () => void, statusMessage: string): boolean;
  /** A body chunk; returning false pauses the connection until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
  /** A 101 answer to an upgrade request: the socket is the handler's from now on. */
  onUpgrade?(status: number, headers: string[], socket: Socket): void;
}

/** Failures of the pool itself; socket errors keep their own codes (ECONNREFUSED, ECONNRESET…). */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** Connection settings of one pool. */
export interface UpstreamPoolSettings {
  host: string;
  port: number;
  /** Most connections open at once; requests beyond wait in a queue. */
  connections: number;
  /** Longest wait from sending a request to its response head. */
  headersTimeoutMs: number;
}

// An idle connection is dropped before the app's own keep-alive timeout would close it under a new
// request: the app's `Keep-Alive: timeout=N` hint less this margin, or this default without one
// (Node's servers say timeout=5).
const IDLE_MARGIN_MS = 1000;
const IDLE_DEFAULT_MS = 4000;

function noop(): void {}

// node:http has parsed the request already, so these cannot appear; checked anyway because the
// request line is written as text and a space or CR/LF there would split it (defence in depth).
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const UNSAFE_TARGET = /[\s\0-\x1f\x7f]/;

function hasContentLength(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return true;
  }
  return false;
}

/** One dispatched request until it ends. */
class Exchange {
  readonly pool: UpstreamPool;
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  conn: Connection | null = null;
  done = false;
  readonly abort = (err?: Error): void =>
    this.pool.abort(this, err ?? new UpstreamError('aborted', 'UPSTREAM_ABORTED'));

  constructor(pool: UpstreamPool, request: UpstreamRequest, handler: UpstreamHandler) {
    this.pool = pool;
    this.request = request;
    this.handler = handler;
  }
}

/** One keep-alive connection to the app. */
class Connection implements ResponseSink {
  readonly pool: UpstreamPool;
  readonly socket: Socket;
  readonly parser: ResponseParser;
  exchange: Exchange | null = null;
  #ended = false;
  #reusable = false;
  #bodySent = true;
  #waitingHead = false;
  // Timers are not moved per request (a refresh costs more than the request's own work here):
  // each request or idle spell sets a deadline, and a timer that fires early re-arms for the rest.
  #headTimer: NodeJS.Timeout | null = null;
  #headDeadline = 0;
  #idleTimer: NodeJS.Timeout | null = null;
  #idleDeadline = 0;
  #upgradeHeaders: string[] | null = null;
  #error: Error | null = null;
  readonly resume = (): void => void this.socket.resume();

  constructor(pool: UpstreamPool, settings: UpstreamPoolSettings) {
    this.pool = pool;
    this.parser = new ResponseParser(this);
    this.socket = connect({ host: settings.host, port: settings.port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.socket.on('error', (err: Error) => (this.#error ??= err));
    this.socket.on('close', () => this.#onClose());
  }

  send(ex: Exchange, headersTimeoutMs: number): void {
    ex.conn = this;
    this.exchange = ex;
    const r = ex.request;
    this.parser.expect(r.method === 'HEAD');
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
    const h = r.headers;
    for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
    if (r.upgrade !== undefined) head += `connection: upgrade\r\nupgrade: ${r.upgrade}\r\n`;
    const chunked = r.body !== null && !hasContentLength(h);
    if (chunked) head += 'transfer-encoding: chunked\r\n';
    this.socket.write(`${head}\r\n`, 'latin1');
    this.#waitingHead = true;
    this.#headDeadline = performance.now() + headersTimeoutMs;
    if (this.#headTimer === null) this.#armHead(headersTimeoutMs);
    if (r.body !== null) this.#sendBody(ex, r.body, chunked);
  }

  #sendBody(ex: Exchange, body: Readable, chunked: boolean): void {
    this.#bodySent = false;
    const socket = this.socket;
    body.on('data', (chunk: Buffer) => {
      if (this.exchange !== ex || chunk.length === 0) return;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        socket.write('\r\n', 'latin1');
        socket.uncork();
      } else socket.write(chunk);
      if (socket.writableNeedDrain) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    });
    body.on('end', () => {
      if (this.exchange !== ex) return;
      if (chunked) socket.write('0\r\n\r\n');
      this.#bodySent = true;
    });
    body.on('error', (err: Error) => {
      if (this.exchange === ex) this.fail(err);
    });
  }

  #armHead(ms: number): void {
    this.#headTimer = setTimeout(this.#onHeadTimer, ms);
    this.#headTimer.unref();
  }

  readonly #onHeadTimer = (): void => {
    this.#headTimer = null;
    if (!this.#waitingHead || this.exchange === null) return;
    const left = this.#headDeadline - performance.now();
    if (left > 0) return this.#armHead(left);
    this.fail(new UpstreamError('the app sent no response headers in time', 'UPSTREAM_HEADERS_TIMEOUT'));
  };

  #onData(chunk: Buffer): void {
    const ex = this.exchange;
    // Bytes nobody asked for: the connection's framing can no longer be trusted.
    if (ex === null) return void this.socket.destroy();
    let used: number;
    try {
      used = this.parser.execute(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    // The handler may have aborted the request from inside a callback (its client went away).
    if (this.exchange !== ex) return;
    if (this.#upgradeHeaders !== null) return this.#handOver(ex, chunk.subarray(used));
    if (this.#ended) {
      this.#ended = false;
      // Anything after the end of the response is not a response to anything.
      this.#complete(ex, this.#reusable && this.#bodySent && used === chunk.length);
    }
  }

  onHead(status: number, headers: string[], reason: string): void {
    const ex = this.exchange as Exchange;
    if (status === 101) {
      if (ex.request.upgrade === undefined || ex.handler.onUpgrade === undefined)
        throw new UpstreamError('101 to a request that asked for no upgrade', 'UPSTREAM_BAD_RESPONSE');
      this.#upgradeHeaders = headers;
      return;
    }
    if (status < 200) return;
    this.#waitingHead = false;
    ex.handler.onHeaders(status, headers, this.resume, reason);
  }

  onBody(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex !== null && !ex.handler.onData(chunk)) this.socket.pause();
  }

  onEnd(reusable: boolean): void {
    this.#ended = true;
    // An answered upgrade request leaves the connection in the app's hands: not reused.
    this.#reusable = reusable && this.exchange?.request.upgrade === undefined;
  }

  #handOver(ex: Exchange, rest: Buffer): void {
    const socket = this.socket;
    const headers = this.#upgradeHeaders as string[];
    this.#upgradeHeaders = null;
    this.#waitingHead = false;
    this.exchange = null;
    ex.done = true;
    socket.removeAllListeners('data');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    socket.on('error', noop);
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    this.pool.forget(this);
    (ex.handler.onUpgrade as NonNullable<UpstreamHandler['onUpgrade']>)(101, headers, socket);
  }

  #complete(ex: Exchange, reusable: boolean): void {
    this.exchange = null;
    this.#waitingHead = false;
    ex.done = true;
    if (this.socket.isPaused()) this.socket.resume();
    ex.handler.onComplete();
    if (reusable) this.pool.release(this);
    else this.#drop();
  }

  /** Ends the current request with `err` and closes the connection. */
  fail(err: Error): void {
    const ex = this.exchange;
    this.exchange = null;
    this.#drop();
    if (ex !== null && !ex.done) {
      ex.done = true;
      ex.handler.onError(err);
    }
  }

  #drop(): void {
    this.socket.destroy();
    this.pool.forget(this);
  }

  #onClose(): void {
    const ex = this.exchange;
    if (ex === null) return void this.pool.forget(this);
    // A body that runs until the connection closes ends here.
    if (this.#error === null && this.parser.finish()) {
      this.#ended = false;
      return this.#complete(ex, false);
    }
    this.fail(
      this.#error ?? new UpstreamError('the app closed the connection before answering', 'UPSTREAM_CLOSED'),
    );
  }

  /** Becomes idle for the app's keep-alive time. */
  idle(): void {
    const hint = this.parser.keepAliveMs;
    const ms = hint > 0 ? hint - IDLE_MARGIN_MS : IDLE_DEFAULT_MS;
    if (ms <= 0) return this.#drop();
    this.#idleDeadline = performance.now() + ms;
    if (this.#idleTimer === null) this.#armIdle(ms);
  }

  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(this.#onIdleTimer, ms);
    this.#idleTimer.unref();
  }

  readonly #onIdleTimer = (): void => {
    this.#idleTimer = null;
    // Busy: the end of its request arms the timer again.
    if (this.exchange !== null) return;
    const left = this.#idleDeadline - performance.now();
    if (left > 0) return this.#armIdle(left);
    this.#drop();
  };

  /** Stops the timers (the connection is gone). */
  clearTimers(): void {
    if (this.#headTimer !== null) clearTimeout(this.#headTimer);
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
  }
}

/**
 * A pool of keep-alive connections to one app process. `dispatch` never throws: every request
 * ends in one handler call. `close` lets requests in flight and queued finish; `destroy` cuts them.
 */
export class UpstreamPool {
  readonly #settings: UpstreamPoolSettings;
  readonly #all = new Set<Connection>();
  readonly #idle: Connection[] = [];
  readonly #queue: Exchange[] = [];
  #closed = false;
  #closing: Promise<void> | null = null;
  #onEmpty: (() => void) | null = null;

  constructor(settings: UpstreamPoolSettings) {
    this.#settings = settings;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closed)
      return handler.onError(new UpstreamError('the upstream pool is closed', 'UPSTREAM_DESTROYED'));
    if (UNSAFE_TARGET.test(request.path) || UNSAFE_TARGET.test(request.method))
      return handler.onError(
        new UpstreamError('the request target cannot be sent as is', 'UPSTREAM_INVALID_REQUEST'),
      );
    const ex = new Exchange(this, request, handler);
    handler.onConnect(ex.abort);
    if (ex.done) return;
    const conn = this.#idle.pop() ?? (this.#all.size < this.#settings.connections ? this.#open() : null);
    if (conn === null) this.#queue.push(ex);
    else conn.send(ex, this.#settings.headersTimeoutMs);
  }

  #open(): Connection {
    const conn = new Connection(this, this.#settings);
    this.#all.add(conn);
    return conn;
  }

  /** Aborts one request: a queued one leaves the queue, a sent one closes its connection. */
  abort(ex: Exchange, err: Error): void {
    if (ex.done) return;
    if (ex.conn !== null) return ex.conn.fail(err);
    const i = this.#queue.indexOf(ex);
    if (i >= 0) this.#queue.splice(i, 1);
    ex.done = true;
    ex.handler.onError(err);
  }

  /** A connection finished a response and may carry the next request. */
  release(conn: Connection): void {
    const next = this.#queue.shift();
    if (next !== undefined) return conn.send(next, this.#settings.headersTimeoutMs);
    if (this.#closed) {
      conn.socket.destroy();
      return this.forget(conn);
    }
    this.#idle.push(conn);
    conn.idle();
  }

  /** A connection is gone (closed, failed, or handed over by an upgrade). */
  forget(conn: Connection): void {
    conn.clearTimers();
    if (!this.#all.delete(conn)) return;
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    // Its place goes to the next request waiting, if any.
    const next = this.#queue.shift();
    if (next !== undefined) this.#open().send(next, this.#settings.headersTimeoutMs);
    if (this.#all.size === 0 && this.#onEmpty !== null) this.#onEmpty();
  }

  /** Stops new requests; resolves once those in flight and queued have ended. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  #close(): Promise<void> {
    this.#closed = true;
    for (const conn of [...this.#idle]) {
      conn.socket.destroy();
      this.forget(conn);
    }
    if (this.#all.size === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#onEmpty = () => {
        if (this.#queue.length === 0) resolve();
      };
    });
  }

  /** Cuts every request now (they end with `UPSTREAM_DESTROYED` or their socket's error). */
  destroy(): Promise<void> {
    this.#closed = true;
    const err = new UpstreamError('the upstream pool was destroyed', 'UPSTREAM_DESTROYED');
    for (const ex of this.#queue.splice(0)) this.abort(ex, err);
    for (const conn of [...this.#all]) conn.fail(err);
    this.#onEmpty?.();
    return Promise.resolve();
  }
}
