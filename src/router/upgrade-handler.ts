import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { rawErrorResponse } from './error-response.ts';
import { responseHeaders } from './headers.ts';
import { CLIENT_GONE, errorFor } from './proxy-handler.ts';
import type { Upstream } from './upstream.ts';

function noop(): void {}

function headBlock(statusCode: number, statusMessage: string, headers: string[]): string {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage || STATUS_CODES[statusCode] || ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * Relays an upgrade request (WebSocket) arriving on a raw client socket. A 101 answer becomes a
 * byte tunnel between the two sockets that counts as in flight on its upstream until either side
 * closes, so draining a colour waits for (or, at its timeout, cuts) its WebSockets. Any other
 * answer is relayed with `connection: close`, since the socket no longer has an HTTP parser.
 * Upgrades are rare and long-lived, so closures here are fine.
 */
export class UpgradeHandler implements Dispatcher.DispatchHandler {
  readonly upstream: Upstream;
  readonly socket: Duplex;
  readonly head: Buffer;
  abort: ((err?: Error) => void) | null = null;
  done = false;
  clientGone = false;
  responded = false;
  tunnelled = false;
  resume: () => void = noop;

  constructor(upstream: Upstream, socket: Duplex, head: Buffer) {
    this.upstream = upstream;
    this.socket = socket;
    this.head = head;
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

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstreamSocket: Duplex): void {
    const client = this.socket;
    this.responded = true;
    this.tunnelled = true;
    if (client.destroyed) {
      upstreamSocket.destroy();
      this.finish();
      return;
    }
    const headers = responseHeaders((rawHeaders ?? []) as Buffer[], this.upstream.responseHeaders, true);
    client.write(headBlock(statusCode, 'Switching Protocols', headers), 'latin1');
    if (this.head.length > 0) upstreamSocket.write(this.head);
    const tunnels = this.upstream.tunnels;
    tunnels.add(upstreamSocket);
    const close = (): void => {
      tunnels.delete(upstreamSocket);
      client.destroy();
      upstreamSocket.destroy();
      this.finish();
    };
    upstreamSocket.on('error', noop);
    upstreamSocket.on('close', close);
    client.on('close', close);
    upstreamSocket.pipe(client);
    client.pipe(upstreamSocket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): boolean {
    if (statusCode < 200) return true;
    const headers = responseHeaders(rawHeaders, this.upstream.responseHeaders);
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
    if (this.responded) this.socket.destroy();
    else this.socket.end(rawErrorResponse(errorFor(err, this.upstream)), 'latin1');
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.upstream.release();
  }
}
