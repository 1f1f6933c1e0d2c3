/**
 * The floor of the router's design, for comparison only: a node:http server relaying every request
 * to one upstream through undici's `Pool.dispatch`, with none of the router's work (no routing,
 * no header rewriting beyond hop-by-hop, no counters, no timeouts of its own).
 * Usage: node bare-proxy.ts --upstream PORT; prints {"port":N,"pid":P} once listening.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { serveChild } from './serve-child.ts';

const i = process.argv.indexOf('--upstream');
const pool = new Pool(`http://127.0.0.1:${process.argv[i + 1]}`, { connections: 128 });

class Relay implements Dispatcher.DispatchHandler {
  readonly res: ServerResponse;
  constructor(res: ServerResponse) {
    this.res = res;
  }
  onConnect(): void {}
  onHeaders(status: number, raw: Buffer[]): boolean {
    const headers: string[] = [];
    for (let j = 0; j < raw.length; j += 2) {
      const name = (raw[j] as Buffer).toString('latin1');
      if (name.length !== 10 || name.toLowerCase() !== 'connection')
        headers.push(name, (raw[j + 1] as Buffer).toString('latin1'));
    }
    this.res.writeHead(status, headers);
    return true;
  }
  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (!this.res.headersSent) this.res.writeHead(502).end();
    else this.res.destroy();
  }
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let j = 0; j < raw.length; j += 2) {
    const name = raw[j] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') headers.push(name, raw[j + 1] as string);
  }
  pool.dispatch(
    { path: req.url as string, method: req.method as string, headers, body: null },
    new Relay(res),
  );
});
server.keepAliveTimeout = 120_000;

function stop(): void {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
}
serveChild(server, stop);
