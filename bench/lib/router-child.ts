/**
 * The router under benchmark, in its own process: `createRouter()` from the router's public entry,
 * one instance `bench` (host `bench.test`) with the given colours, one of them active. A second,
 * loopback-only HTTP port is the control channel (the "admin request" of the flip benchmark):
 *   GET  /usage            → {cpuUs, userUs, systemUs, rss, heapTotal, heapUsed, external, at}
 *   POST /flip?color=green → router.activate(); {activatedAt} (epoch ms, taken right after)
 *   GET  /state            → router.state()
 *   POST /gc               → global.gc() when started with --expose-gc
 * Usage: node router-child.ts --slot blue=1.0.0@PORT [--slot green=2.0.0@PORT] --active blue
 *        [--port N] [--reuse-port]  (SO_REUSEPORT: several children share the port)
 *        [--tls-cert FILE --tls-key FILE]  (the proxy port is the TLS listener, serving that pair
 *        as the default certificate; no plain listener)
 *        [--no-fast-path]  (node:http parses every request: the router before ADR 0030)
 *        [--router-module PATH]  (another copy of the router's entry, e.g. a snapshot of an older
 *        commit or the built `dist/router/index.js`; default: this tree's `src/router/index.ts`)
 * Prints {"port":N,"control":M,"pid":P} once both listen. SIGTERM closes the router and exits
 * (cleanly, so `--cpu-prof` writes its profile).
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { createRouter as CreateRouter } from '../../src/router/index.ts';
import type { Color } from '../../src/shared/index.ts';

const INSTANCE = 'bench';
const BENCH_HOST = 'bench.test';

function flags(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    const v = process.argv[i + 1];
    if (a === `--${name}` && v !== undefined) out.push(v);
  });
  return out;
}

const modulePath = flags('router-module')[0];
const { createRouter } = (await import(
  modulePath === undefined ? '../../src/router/index.ts' : pathToFileURL(modulePath).href
)) as { createRouter: typeof CreateRouter };
// --no-fast-path: node:http parses every request (the router as it was before ADR 0030).
const router = createRouter(process.argv.includes('--no-fast-path') ? { fastPath: false } : {});
router.setInstance(INSTANCE, [BENCH_HOST]);
for (const spec of flags('slot')) {
  const m = /^(blue|green)=([^@]+)@(\d+)$/.exec(spec);
  if (!m) throw new Error(`--slot must look like blue=1.0.0@8080, got "${spec}"`);
  router.setSlot(INSTANCE, { color: m[1] as Color, version: m[2]!, port: Number(m[3]) });
}
router.activate(INSTANCE, (flags('active')[0] ?? 'blue') as Color);
// --port P --reuse-port: several router processes on one port (SO_REUSEPORT), as the agent binds.
const reusePort = process.argv.includes('--reuse-port');
const tlsCert = flags('tls-cert')[0];
const tlsKey = flags('tls-key')[0];
let port: number;
if (tlsCert !== undefined && tlsKey !== undefined) {
  const [cert, key] = await Promise.all([readFile(tlsCert, 'utf8'), readFile(tlsKey, 'utf8')]);
  router.setCertificates([{ hosts: [BENCH_HOST], cert, key, isDefault: true }]);
  port = await router.listenTls(Number(flags('port')[0] ?? 0), '127.0.0.1', { reusePort });
} else port = await router.listen(Number(flags('port')[0] ?? 0), '127.0.0.1', { reusePort });

const origin = performance.timeOrigin;
const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control');
  let answer: unknown;
  try {
    if (url.pathname === '/usage') {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      answer = {
        cpuUs: cpu.user + cpu.system,
        userUs: cpu.user,
        systemUs: cpu.system,
        rss: mem.rss,
        heapTotal: mem.heapTotal,
        heapUsed: mem.heapUsed,
        external: mem.external,
        at: origin + performance.now(),
      };
    } else if (url.pathname === '/flip') {
      router.activate(INSTANCE, url.searchParams.get('color') as Color);
      answer = { activatedAt: origin + performance.now() };
    } else if (url.pathname === '/state') {
      answer = router.state();
    } else if (url.pathname === '/gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) gc();
      answer = { gc: gc !== undefined };
    } else {
      res.writeHead(404).end();
      return;
    }
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(answer));
});
control.keepAliveTimeout = 120_000;
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
process.stdout.write(
  JSON.stringify({ port, control: (control.address() as AddressInfo).port, pid: process.pid }) + '\n',
);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  control.close();
  control.closeAllConnections();
  const bound = setTimeout(() => process.exit(0), 3_000);
  bound.unref();
  void router.close().finally(() => process.exit(0));
}
process.once('SIGTERM', stop);
// The bench holds our stdin: if it dies without stopping us, its end stops us too.
process.stdin.on('end', stop).resume();
