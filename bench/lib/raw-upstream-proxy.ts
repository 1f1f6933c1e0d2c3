/**
 * Spike (issue 24): the floor with undici replaced by a raw `net` upstream client — a node:http
 * server whose requests go out on pooled sockets as one latin1 head string, the response head
 * parsed by hand (Content-Length bodies only: enough for the bench app, not for production).
 * Usage: node raw-upstream-proxy.ts --upstream PORT; prints {"port":N,"pid":P} once listening.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { serveChild } from './serve-child.ts';

const i = process.argv.indexOf('--upstream');
const upstreamPort = Number(process.argv[i + 1]);

class Conn {
  readonly socket: Socket;
  res: ServerResponse | null = null;
  head = '';
  left = -1;
  constructor() {
    this.socket = connect(upstreamPort, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }
  onData(chunk: Buffer): void {
    const res = this.res;
    if (res === null) return;
    if (this.left < 0) {
      const text = this.head + chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        this.head = text;
        return;
      }
      const lines = text.slice(0, end).split('\r\n');
      const status = Number((lines[0] as string).slice(9, 12));
      const headers: string[] = [];
      let length = 0;
      for (let j = 1; j < lines.length; j++) {
        const line = lines[j] as string;
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        const value = line.slice(colon + 1).trim();
        if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(value);
        if (name.length !== 10 || name.toLowerCase() !== 'connection') headers.push(name, value);
      }
      headers.push('x-app-version', '1.0.0');
      res.writeHead(status, headers);
      this.head = '';
      const body = chunk.subarray(chunk.length - (text.length - end - 4));
      this.left = length;
      chunk = body;
    }
    if (chunk.length > 0) {
      this.left -= chunk.length;
      res.write(chunk);
    }
    if (this.left === 0) {
      this.left = -1;
      this.res = null;
      res.end();
      idle.push(this);
    }
  }
  fail(): void {
    const res = this.res;
    this.res = null;
    if (res !== null && !res.headersSent) res.writeHead(502).end();
    else res?.destroy();
  }
}

const idle: Conn[] = [];

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  const raw = req.rawHeaders;
  for (let j = 0; j < raw.length; j += 2) {
    const name = raw[j] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') head += `${name}: ${raw[j + 1]}\r\n`;
  }
  const conn = idle.pop() ?? new Conn();
  conn.res = res;
  conn.socket.write(head + '\r\n', 'latin1');
});
server.keepAliveTimeout = 120_000;

function stop(): void {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
serveChild(server, stop);
