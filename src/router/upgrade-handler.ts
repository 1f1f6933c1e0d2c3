import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawErrorResponse } from './error-response.ts';
import { responseHeaders } from './headers.ts';
import { CLIENT_GONE, errorFor } from './proxy-handler.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamHandler } from './upstream-pool.ts';
import { Tunnel } from './ws-tunnel.ts';
import type { TunnelOwner } from './ws-tunnel.ts';

function noop(): void {}

function headBlock(statusCode: number, statusMessage: string, headers: string[]): string {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage || STATUS_CODES[statusCode] || ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * Relays an upgrade request (WebSocket) arriving on a raw client socket. A 101 answer becomes a
 * `Tunnel` that counts as in flight on its upstream until both sides closed, so draining a colour
 * waits for its WebSockets (and tells them to go away, see `Upstream.drain`). Any other answer is
 * relayed with `connection: close`, since the socket no longer has an HTTP parser. Upgrades are
 * rare and long-lived, so closures here are fine.
 */
export class UpgradeHandler implements UpstreamHandler, TunnelOwner {
  readonly upstream: Upstream;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly websocket: boolean;
  readonly extra: readonly string[];
  abort: ((err?: Error) => void) | null = null;
  done = false;
  clientGone = false;
  responded = false;
  tunnelled = false;
  resume: () => void = noop;
  /** performance.now() at dispatch, for the latency histogram. */
  readonly started = performance.now();

  constructor(
    upstream: Upstream,
    socket: Duplex,
    head: Buffer,
    websocket: boolean,
    extra: readonly string[],
  ) {
    this.upstream = upstream;
    this.socket = socket;
    this.head = head;
    this.websocket = websocket;
    this.extra = extra;
    socket.on('error', noop);
    socket.on('close', () => {
      if (this.done || this.tunnelled) return;
      this.clientGone = true;
      this.abort?.(CLIENT_GONE);
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) abort(CLIENT_GONE);
    else this.abort = abort;
  }

  onUpgrade(statusCode: number, rawHeaders: string[], upstreamSocket: Duplex): void {
    const client = this.socket;
    this.responded = true;
    this.tunnelled = true;
    if (client.destroyed) {
      upstreamSocket.destroy();
      this.finish();
      return;
    }
    this.upstream.counters.response(statusCode, performance.now() - this.started);
    const headers = responseHeaders(rawHeaders, this.extra, null, true);
    client.write(headBlock(statusCode, 'Switching Protocols', headers), 'latin1');
    this.upstream.addTunnel(new Tunnel(this, client, upstreamSocket, this.websocket, this.head));
  }

  tunnelClosed(tunnel: Tunnel): void {
    this.upstream.tunnels.delete(tunnel);
    this.finish();
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusMessage: string): boolean {
    this.upstream.counters.response(statusCode, performance.now() - this.started);
    const headers = responseHeaders(rawHeaders, this.extra, null);
    headers.push('connection', 'close');
    this.responded = true;
    this.resume = resume;
    return this.#write(headBlock(statusCode, statusMessage, headers));
  }

  onData(chunk: Buffer): boolean {
    return this.#write(chunk);
  }

  #write(data: Buffer | string): boolean {
    if (this.socket.write(data, 'latin1')) return true;
    this.socket.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.finish();
    this.socket.end();
  }

  onError(err: Error): void {
    this.finish();
    if (this.clientGone) return;
    if (this.responded) {
      this.socket.destroy();
      return;
    }
    const error = errorFor(err, this.upstream);
    if (error.status === 502 || error.status === 504) this.upstream.counters.failed();
    this.socket.end(rawErrorResponse(error), 'latin1');
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.upstream.release();
  }
}
