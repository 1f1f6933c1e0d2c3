import { ServerResponse } from 'node:http';
import { BodyLimit } from './body-limit.ts';
import { BAD_GATEWAY, BAD_REQUEST, GATEWAY_TIMEOUT, PAYLOAD_TOO_LARGE, sendError } from './error-response.ts';
import type { RouterError } from './error-response.ts';
import { responseHeaders } from './headers.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamHandler, UpstreamRequest } from './upstream-pool.ts';

/**
 * The server's response class: it carries a back-reference to the proxying in progress so one
 * shared 'close' listener serves every request (no closure per request).
 */
export class ProxyResponse extends ServerResponse {
  proxy: ProxyHandler | null = null;
  /** The client sent `Expect: 100-continue`: answer 100 only once the request will be forwarded. */
  expectContinue = false;
  /** Set while the request waits for a colour to be activated (pause). */
  held: { gone: boolean } | null = null;
}

/** Reason passed to the upstream request's abort when the client went away; never reaches a client. */
export const CLIENT_GONE = new Error('client closed the connection before the response ended');

function noop(): void {}

// A pooled keep-alive connection can be closed by the app just as a request is written on it
// (RFC 9112 §9.3.1); nothing was processed that a safe method could not repeat, so such a request
// is sent once more (RFC 9110 §9.2.2) instead of failing the client.
function isRetryable(err: Error, opts: UpstreamRequest): boolean {
  if (opts.body !== null) return false;
  const method = opts.method;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false;
  const code = (err as { code?: unknown }).code;
  return code === 'UPSTREAM_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

function redispatch(relay: UpstreamRelay & UpstreamHandler): void {
  if (relay.clientGone) relay.finish();
  else relay.upstream.pool.dispatch(relay.opts, relay);
}

/** Picks the answer for a request that failed before its response headers were sent. */
export function errorFor(err: Error, upstream: Upstream, body?: unknown): RouterError {
  if (body instanceof BodyLimit && body.exceeded) return PAYLOAD_TOO_LARGE;
  if (upstream.drainAborted) return GATEWAY_TIMEOUT;
  const code = (err as { code?: unknown }).code;
  if (code === 'UPSTREAM_HEADERS_TIMEOUT') return GATEWAY_TIMEOUT;
  if (code === 'UPSTREAM_INVALID_REQUEST') return BAD_REQUEST;
  return BAD_GATEWAY;
}

/**
 * What relaying one upstream response shares, whether it is written to node:http's response
 * (`ProxyHandler`) or straight onto the client's socket (the fast path's `FastRelay`): one small
 * object per request, no closures; the single retry of a safe request whose pooled connection was
 * closed under it; aborting the upstream request when the client goes; `finish()` releasing the
 * upstream's in-flight count exactly once.
 */
export class UpstreamRelay {
  readonly upstream: Upstream;
  readonly opts: UpstreamRequest;
  /** Headers appended to the response (version, maybe a cookie or the reload signal). */
  readonly extra: readonly string[];
  /** Headers appended only when the response is an HTML page (the deployment cookie), or null. */
  readonly htmlExtra: readonly string[] | null;
  /** performance.now() at dispatch. */
  readonly started: number;
  abort: ((err?: Error) => void) | null = null;
  resume: () => void = noop;
  done = false;
  clientGone = false;
  retried = false;

  constructor(
    upstream: Upstream,
    opts: UpstreamRequest,
    extra: readonly string[],
    htmlExtra: readonly string[] | null,
    started: number,
  ) {
    this.upstream = upstream;
    this.opts = opts;
    this.extra = extra;
    this.htmlExtra = htmlExtra;
    this.started = started;
  }

  onConnect(abort: (err?: Error) => void): void {
    // The client left while the request waited for a pooled connection.
    if (this.clientGone) abort(CLIENT_GONE);
    else this.abort = abort;
  }

  /** Sends the request once more when it may be (see `isRetryable`) and nothing reached the client yet; true when it did. */
  retryOnce(this: UpstreamRelay & UpstreamHandler, err: Error, headersSent: boolean): boolean {
    if (this.retried || this.clientGone || headersSent || this.upstream.drainAborted || !isRetryable(err, this.opts)) return false;
    this.retried = true;
    this.abort = null;
    process.nextTick(redispatch, this);
    return true;
  }

  /** The client's connection closed (or the router ends the answer): the upstream request is aborted. */
  onClientClose(): void {
    if (this.done) return;
    this.clientGone = true;
    if (this.abort !== null) this.abort(CLIENT_GONE);
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.upstream.release();
  }
}

/**
 * Relays one upstream response to one node:http client response. Backpressure: `onData` returns
 * false when the client's socket is full and the connection's `resume` is called on 'drain'.
 * The response's status and latency (to its headers) go to the colour's counters.
 */
export class ProxyHandler extends UpstreamRelay implements UpstreamHandler {
  readonly res: ProxyResponse;

  constructor(
    upstream: Upstream,
    res: ProxyResponse,
    opts: UpstreamRequest,
    extra: readonly string[],
    htmlExtra: readonly string[] | null,
    started: number,
  ) {
    super(upstream, opts, extra, htmlExtra, started);
    this.res = res;
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusMessage: string): boolean {
    this.resume = resume;
    this.upstream.counters.response(statusCode, performance.now() - this.started);
    const headers = responseHeaders(rawHeaders, this.extra, this.htmlExtra);
    if (statusMessage) this.res.writeHead(statusCode, statusMessage, headers);
    else this.res.writeHead(statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.finish();
    this.res.end();
  }

  onError(err: Error): void {
    if (this.retryOnce(err, this.res.headersSent)) return;
    this.finish();
    if (this.clientGone) return;
    const res = this.res;
    try {
      // Headers already went out. A stream the router itself ends (its slot is being drained or
      // stopped) gets the chunked terminator, so an EventSource reconnects instead of seeing a
      // reset; otherwise (the app failed) the only honest signal left is cutting the connection.
      if (res.headersSent) {
        const body = this.opts.body;
        if (body instanceof BodyLimit && body.exceeded) body.closeAfterUpload(res.socket);
        else if (this.upstream.draining && res.chunkedEncoding) res.end();
        else res.destroy();
      } else {
        const error = errorFor(err, this.upstream, this.opts.body);
        if (error.status === 502 || error.status === 504) this.upstream.counters.failed();
        // The rest of an oversized body is not read: the connection cannot be reused.
        else if (error === PAYLOAD_TOO_LARGE) res.shouldKeepAlive = false;
        sendError(res, error);
      }
    } catch {
      res.destroy();
    }
  }

  /**
   * Ends a response whose headers went out, without waiting for the app (the router is closing):
   * a chunked one with its terminator, one with a length by closing the connection.
   */
  endStream(): void {
    if (this.done) return;
    // As if the client left: onError (from the abort) then leaves the response alone.
    this.onClientClose();
    this.finish();
    if (this.res.chunkedEncoding) this.res.end();
    else this.res.destroy();
  }

  override finish(): void {
    if (!this.done) this.res.proxy = null;
    super.finish();
  }
}

/** Shared 'close' listener of every proxied response. */
export function onResponseClose(this: ProxyResponse): void {
  const handler = this.proxy;
  if (handler !== null) handler.onClientClose();
}
