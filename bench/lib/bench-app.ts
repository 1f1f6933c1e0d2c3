/**
 * The upstream app of the router benchmarks, run as its own process so its CPU is not counted in
 * the proxy's: a bare node:http server answering a small text body. It remembers how many
 * requests it got and when the last one arrived (epoch ms, sub-ms), read at `/__bench/stats`
 * (not counted) — the flip benchmark uses that to see when the old colour got its last request.
 * Usage: node bench-app.ts [--version 1.0.0]; prints {"port":N} once listening.
 */
import { createServer } from 'node:http';
import { serveChild } from './serve-child.ts';

const i = process.argv.indexOf('--version');
const version = (i >= 0 ? process.argv[i + 1] : undefined) ?? '1.0.0';
const body = Buffer.from(`hello from ${version}\n`);
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
const origin = performance.timeOrigin;
let hits = 0;
let lastAt = 0;

const server = createServer((req, res) => {
  if (req.url === '/__bench/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ hits, lastAt, version }));
    return;
  }
  hits++;
  lastAt = origin + performance.now();
  res.writeHead(200, headers);
  res.end(body);
});
// Proxies keep their upstream connections for long; Node's 5 s default would churn them.
server.keepAliveTimeout = 120_000;

function stop(): void {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
serveChild(server, stop);
