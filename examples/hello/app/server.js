// The example app Cutover deploys in the demo and the end-to-end tests.
// It reads what Cutover gives every slot: PORT, APP_VERSION, CUTOVER_COLOR, CUTOVER_INSTANCE.
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const version = process.env.APP_VERSION ?? 'dev';
const color = process.env.CUTOVER_COLOR ?? '-';
const greeting = process.env.GREETING ?? 'Hello';
const failAfterStart = process.env.FAIL_HEALTH === '1';
// Lets tests ship a release that passes its health check but answers 500 to users (a bad release
// the bake analysis must catch after the flip).
const failRequests = process.env.FAIL_REQUESTS === '1';
// Lets tests hold a deployment in its health step: the app answers 503 on /healthz until then.
const readyAt = Date.now() + Number(process.env.STARTUP_DELAY_MS ?? 0);
// Lets tests make a live release sick: once this file exists, /healthz answers 503 (users still get
// normal answers), so only the supervisor's health checks see it.
const unhealthyFile = process.env.UNHEALTHY_FILE;
const exists = (file) => access(file).then(() => true, () => false);

const page = () => `<!doctype html>
<html><head><meta charset="utf-8"><title>hello ${version}</title>
<style>body{font:18px system-ui;margin:3em;background:${color === 'green' ? '#e9f7ef' : '#eaf2fb'}}</style></head>
<body><h1>${greeting} from ${version}</h1><p>Served by the <b>${color}</b> slot of ${process.env.CUTOVER_INSTANCE ?? '?'}.</p></body></html>`;

const streams = new Set();
const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    const answer = (status) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok\n' : 'not ready\n');
    };
    if (failAfterStart) return answer(500);
    if (Date.now() < readyAt) return answer(503);
    if (unhealthyFile) return void exists(unhealthyFile).then((sick) => answer(sick ? 503 : 200));
    return answer(200);
  }
  if (failRequests) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    return res.end(`${version} is broken\n`);
  }
  if (req.url?.startsWith('/slow')) {
    const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 500);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version, color, slept: ms }));
    }, ms);
    return;
  }
  if (req.url === '/events') {
    // A server-sent event stream (EventSource): the version now and every second; ended on SIGTERM.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    const tick = () => res.write(`data: ${JSON.stringify({ version, color })}\n\n`);
    tick();
    const timer = setInterval(tick, 1000);
    streams.add(res);
    res.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
    return;
  }
  // Proves the app received its app config without ever showing a value: the SHA-256 of one
  // variable (`?key=DATABASE_URL`), or null when it is unset.
  if (req.url.startsWith('/api/config-hash?')) {
    const key = new URL(req.url, 'http://x').searchParams.get('key') ?? '';
    const value = process.env[key];
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ key, sha256: value === undefined ? null : createHash('sha256').update(value).digest('hex') }));
  }
  // What the router tells the app about its client: a load balancer in trustedProxies keeps its
  // X-Forwarded-* (the router's hop appended); anyone else's are replaced by the router's.
  if (req.url === '/api/forwarded') {
    const h = req.headers;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ for: h['x-forwarded-for'] ?? null, proto: h['x-forwarded-proto'] ?? null, host: h['x-forwarded-host'] ?? null }));
  }
  if (req.url === '/api/version') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ version, color }));
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page());
});
// Longer than the router's upstream idle timeout, so the router closes idle connections first.
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`hello ${version} (${color}) listening on ${port}`));

process.on('SIGTERM', () => {
  console.log('SIGTERM: finishing in-flight requests');
  for (const res of streams) res.end();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
