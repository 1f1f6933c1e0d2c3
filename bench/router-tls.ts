/**
 * The router over TLS against nginx over TLS (issue 21), pinned like router-pinned.ts: every proxy
 * and the app share CPU 0, wrk runs alone on CPU 1, and the proxies take turns (interleaved
 * repetitions). Same certificate (P-256) and same app for all. Per proxy: keep-alive throughput and
 * CPU per request, and a new connection per request (`Connection: close`: a full TLS handshake
 * each) for the handshake's cost. Plain-HTTP rows of both are the reference; three spike listeners
 * (`lib/tls-dispatch.ts`, a fixed answer) measure what offering h2 by ALPN costs an HTTP/1.1
 * client. See README.md ("router-tls").
 * Usage: node router-tls.ts [--reps 3] [--duration 6] [--handshake-duration 5] [--connections 64]
 *        [--handshake-connections 16] [--only nginx-tls,router-tls,…]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeHostCert, makeTestCerts } from '../src/testing/index.ts';
import { startChild, Tracker } from './lib/child-process.ts';
import { intFlag, withDeadline } from './lib/cutover-process.ts';
import { nginxBinary, startNginx } from './lib/nginx.ts';
import type { TlsFilesPair } from './lib/nginx.ts';
import type { PinnedProxy } from './lib/pinned-proxies.ts';
import { cpuOf } from './lib/proc-stat.ts';
import { BENCH_HOST, startApp, startRouter } from './lib/router-procs.ts';
import { runWrk, wrkBinary } from './lib/wrk.ts';
import type { WrkResult } from './lib/wrk.ts';

const PROXY_CPU = 0;
const LOAD_CPU = 1;

export interface TlsBenchOptions {
  reps: number;
  durationS: number;
  handshakeDurationS: number;
  warmupS: number;
  connections: number;
  handshakeConnections: number;
  only: string[] | null;
}

export const DEFAULT_TLS_BENCH: TlsBenchOptions = {
  reps: 3,
  durationS: 6,
  handshakeDurationS: 5,
  warmupS: 2,
  connections: 64,
  handshakeConnections: 16,
  only: null,
};

/** What one proxy is: how to start it, and whether it speaks TLS. */
interface Spec {
  name: string;
  tls: boolean;
  start(appPort: number, pair: TlsFilesPair): Promise<PinnedProxy | null>;
}

function dispatchSpike(mode: string): Spec {
  return {
    name: `spike ${mode}`,
    tls: true,
    async start(_appPort, pair) {
      const script = new URL('./lib/tls-dispatch.ts', import.meta.url).pathname;
      const child = await startChild<{ port: number }>({
        what: mode,
        command: 'taskset',
        args: ['-c', String(PROXY_CPU), process.execPath, script, '--mode', mode, '--cert', pair.cert, '--key', pair.key],
        raiseFileLimit: true,
      });
      return { name: `spike ${mode}`, port: child.ready.port, pids: [child.pid], stop: () => child.stop() };
    },
  };
}

function nginx(tls: boolean): Spec {
  const name = tls ? 'nginx-tls' : 'nginx-http';
  return {
    name,
    tls,
    async start(appPort, pair) {
      const binary = nginxBinary();
      if (binary === null) return null;
      const n = await startNginx(binary, appPort, 1, PROXY_CPU, tls ? pair : undefined);
      return { name, port: n.port, pids: [n.pid, ...n.workers], stop: n.stop };
    },
  };
}

function router(tls: boolean): Spec {
  const name = tls ? 'router-tls' : 'router-http';
  return {
    name,
    tls,
    async start(appPort, pair) {
      const child = await startRouter([`blue=1.0.0@${appPort}`], { cpu: PROXY_CPU, ...(tls ? { tls: pair } : {}) });
      return { name, port: child.ready.port, pids: [child.pid], stop: () => child.stop() };
    },
  };
}

const SPECS: Spec[] = [
  nginx(true),
  router(true),
  nginx(false),
  router(false),
  dispatchSpike('tls-http1'),
  dispatchSpike('alpn-h2'),
  dispatchSpike('h2-compat'),
];

/** One wrk run against one proxy, with the proxy's CPU per request (µs) from /proc. */
interface Run {
  proxy: string;
  kind: 'keep-alive' | 'new connection';
  wrk: Omit<WrkResult, 'raw'>;
  cpuUsPerRequest: number;
}

async function measure(
  proxy: PinnedProxy,
  spec: Spec,
  kind: Run['kind'],
  o: TlsBenchOptions,
  durationS: number,
  wrk: string,
  track: Tracker,
): Promise<Run> {
  const before = await cpuOf(proxy.pids);
  const { raw: _raw, ...report } = await runWrk(
    {
      url: `${spec.tls ? 'https' : 'http'}://127.0.0.1:${proxy.port}/`,
      threads: 1,
      connections: kind === 'keep-alive' ? o.connections : o.handshakeConnections,
      durationS,
      host: BENCH_HOST,
      cpu: LOAD_CPU,
      ...(kind === 'new connection' ? { headers: ['Connection: close'] } : {}),
    },
    wrk,
    track,
  );
  const after = await cpuOf(proxy.pids);
  const cpu = after.userUs + after.systemUs - before.userUs - before.systemUs;
  return { proxy: proxy.name, kind, wrk: report, cpuUsPerRequest: cpu / Math.max(1, report.requests) };
}

/** Per proxy and kind: medians over the repetitions. */
export interface TlsBenchRow {
  proxy: string;
  kind: Run['kind'];
  rps: number;
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};

function summarise(runs: Run[]): TlsBenchRow[] {
  const keys = [...new Set(runs.map((r) => `${r.proxy}\n${r.kind}`))];
  return keys.map((k) => {
    const [proxy, kind] = k.split('\n') as [string, Run['kind']];
    const mine = runs.filter((r) => r.proxy === proxy && r.kind === kind);
    return {
      proxy,
      kind,
      rps: median(mine.map((r) => r.wrk.rps)),
      cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
      p50Ms: median(mine.map((r) => r.wrk.p50Ms)),
      p99Ms: median(mine.map((r) => r.wrk.p99Ms)),
      failures: mine.reduce((n, r) => n + r.wrk.failures, 0),
    };
  });
}

function table(rows: TlsBenchRow[]): string[] {
  const f = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  return [
    '| proxy | connections | requests/s | CPU µs/request (proxy) | p50 ms | p99 ms | failures |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.proxy} | ${r.kind} | ${f(r.rps)} | ${f(r.cpuUsPerRequest, 1)} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ${r.failures} |`,
    ),
  ];
}

const load1 = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Runs the whole comparison; bounded in time, stops everything it started. */
export async function runRouterTls(
  options: Partial<TlsBenchOptions> = {},
): Promise<{ lines: string[]; rows: TlsBenchRow[] }> {
  const o = { ...DEFAULT_TLS_BENCH, ...options };
  const wrk = wrkBinary();
  if (wrk === null) return { lines: ['router-tls: wrk is not installed: skipped'], rows: [] };
  const specs = SPECS.filter((s) => o.only === null || o.only.includes(s.name));
  const perRep = specs.length * (o.warmupS + o.durationS + o.handshakeDurationS + 6);
  const budgetMs = (o.reps * perRep + 30 * specs.length + 60) * 1000;
  const loadBefore = load1();
  const track = new Tracker();
  const dir = await mkdtemp(join(tmpdir(), 'cutover-bench-tls-'));
  const stopOnSignal = () => void track.close().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    return await withDeadline('router-tls benchmark', budgetMs, async () => {
      const certs = await makeTestCerts(dir);
      const pair = await makeHostCert(dir, 'bench', certs.ca, [BENCH_HOST, '127.0.0.1']);
      const app = track.add(await startApp('1.0.0', PROXY_CPU));
      const started: { proxy: PinnedProxy; spec: Spec }[] = [];
      const missing: string[] = [];
      for (const spec of specs) {
        const proxy = await spec.start(app.ready.port, pair);
        if (proxy === null) missing.push(spec.name);
        else started.push({ proxy: track.add(proxy), spec });
      }
      const runs: Run[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        const order = started.map((_, i) => started[(i + rep) % started.length]!);
        for (const { proxy, spec } of order) {
          await measure(proxy, spec, 'keep-alive', o, o.warmupS, wrk, track);
          runs.push(await measure(proxy, spec, 'keep-alive', o, o.durationS, wrk, track));
          runs.push(await measure(proxy, spec, 'new connection', o, o.handshakeDurationS, wrk, track));
        }
      }
      const rows = summarise(runs);
      const lines = [
        `router-tls: proxies and the app on CPU ${PROXY_CPU}, wrk -t1 on CPU ${LOAD_CPU}; ${o.reps} interleaved repetitions of keep-alive -c${o.connections} for ${o.durationS} s (after ${o.warmupS} s warm-up) and a new connection per request (Connection: close) -c${o.handshakeConnections} for ${o.handshakeDurationS} s; medians over the repetitions; one P-256 certificate for all`,
        `load average before ${loadBefore}, at the end ${load1()}`,
        ...(missing.length > 0 ? [`not installed, skipped: ${missing.join(', ')}`] : []),
        ...table(rows),
      ];
      return { lines, rows };
    });
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await track.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function listFlag(name: string): string[] | null {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  return raw === undefined ? null : raw.split(',').filter(Boolean);
}

if (import.meta.main) {
  const d = DEFAULT_TLS_BENCH;
  const { lines } = await runRouterTls({
    reps: intFlag('reps', d.reps),
    durationS: intFlag('duration', d.durationS),
    handshakeDurationS: intFlag('handshake-duration', d.handshakeDurationS),
    warmupS: intFlag('warmup', d.warmupS),
    connections: intFlag('connections', d.connections),
    handshakeConnections: intFlag('handshake-connections', d.handshakeConnections),
    only: listFlag('only'),
  });
  console.log(lines.join('\n'));
}
