/**
 * A spike for the HTTP/2 question of issue 21 (comparison only): what an ALPN-dispatching TLS
 * listener costs an HTTP/1.1 client. Three listeners answer the same fixed body (no proxying, so
 * the listener's own cost is all there is to see):
 *   --mode tls-http1  tls.Server offering `http/1.1` only, handing each secure socket to a
 *                     node:http server ('connection'), as the router's TLS listener does;
 *   --mode alpn-h2    the same, offering `h2` too: h2 sockets go to a node:http2 server, the
 *                     others to node:http (the dispatch a router serving h2 would need);
 *   --mode h2-compat  http2.createSecureServer({allowHTTP1: true}): Node's own dispatch, HTTP/1.1
 *                     served through it.
 * Usage: node tls-dispatch.ts --mode M --cert FILE --key FILE; prints {"port":N,"pid":P}.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, createServer as createH2Server } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { serveChild } from './serve-child.ts';

function flag(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const mode = flag('mode');
const cert = readFileSync(flag('cert'));
const key = readFileSync(flag('key'));
const body = Buffer.from('hello from 1.0.0\n');
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-app-version': '1.0.0' };

function answer(_req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  (res as ServerResponse).writeHead(200, headers);
  res.end(body);
}

const http1 = createHttpServer(answer);
http1.keepAliveTimeout = 120_000;
// Tracking of connections starts when a node:http server listens; this one never does.
http1.emit('listening');
let server: Server;
if (mode === 'h2-compat') {
  server = createSecureServer({ cert, key, allowHTTP1: true }, answer);
} else if (mode === 'tls-http1' || mode === 'alpn-h2') {
  const h2 = createH2Server(answer);
  const tls = createTlsServer({ cert, key, ALPNProtocols: mode === 'alpn-h2' ? ['h2', 'http/1.1'] : ['http/1.1'] });
  tls.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
    else http1.emit('connection', socket);
  });
  server = tls;
} else throw new Error(`--mode must be tls-http1, alpn-h2 or h2-compat, got "${mode}"`);
server.on('tlsClientError', () => {});

function stop(): void {
  server.close();
  process.exit(0);
}
serveChild(server, stop);
