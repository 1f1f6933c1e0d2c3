/**
 * The router as a reverse proxy, against the app alone and nginx, in one run: throughput, latency,
 * CPU per request, flip latency and memory with idle connections. See README.md ("router").
 * Usage: node router-proxy.ts [--duration 8] [--connections 64] [--flips 200] [--idle 5000] …
 */
import { cpus, loadavg } from 'node:os';
import { intFlag, withDeadline } from './lib/cutover-process.ts';
import { Tracker } from './lib/child-process.ts';
import { json, loopback, startApp, startRouter } from './lib/router-procs.ts';
import type { RouterUsage } from './lib/router-procs.ts';
import { header, row } from './lib/stats.ts';
import { wrkBinary } from './lib/wrk.ts';
import { runRouterFlip } from './router-flip.ts';
import type { FlipResult } from './router-flip.ts';
import { memoryLines, runRouterMemory } from './router-memory.ts';
import type { MemoryResult } from './router-memory.ts';
import { loadTable, runRouterThroughput } from './router-throughput.ts';
import type { LoadOptions, LoadRow } from './router-throughput.ts';

export const ROUTER_TARGETS = {
  /** Router req/s ≥ this × nginx (1 worker) req/s, saturating run. */
  throughputVsNginx: 0.8,
  cpuUsPerRequest: 30,
  addedLatencyP50Ms: 0.1,
  flipP99Ms: 5,
  rssMb: 150,
} as const;

/** The load settings of every path (the wrk binary is found at run time), then flip and memory. */
export interface RouterBenchOptions extends Omit<LoadOptions, 'wrk'> {
  flips: number;
  flipWarmup: number;
  flipClients: number;
  idle: number;
  idleWatchS: number;
}

/** One target and how the run did against it. */
export interface TargetCheck {
  name: string;
  value: number;
  unit: string;
  target: string;
  met: boolean | null;
}

export interface RouterBenchResults {
  load: LoadRow[];
  flip: FlipResult | null;
  memory: MemoryResult | null;
  targets: TargetCheck[];
  notes: string[];
}

export const DEFAULT_ROUTER_BENCH: RouterBenchOptions = {
  threads: 1,
  connections: 64,
  durationS: 8,
  latencyConnections: 1,
  latencyDurationS: 4,
  warmupS: 2,
  nginxAuto: true,
  flips: 200,
  flipWarmup: 10,
  flipClients: 8,
  idle: 5000,
  idleWatchS: 6,
};

function targets(load: LoadRow[], flip: FlipResult | null, memory: MemoryResult | null): TargetCheck[] {
  const find = (path: string, shape: LoadRow['shape']) =>
    load.find((r) => r.path.startsWith(path) && r.shape === shape);
  const routerT = find('through the router', 'throughput');
  const nginxT = find('through nginx (1 worker)', 'throughput');
  const routerL = find('through the router', 'latency');
  const directL = find('direct to the app', 'latency');
  // A figure from a run with failed requests measures error answers, not proxying: never "met".
  const failed = (...rows: (LoadRow | undefined)[]) => rows.reduce((n, r) => n + (r?.wrk.failures ?? 0), 0);
  const check = (
    name: string,
    value: number | undefined,
    unit: string,
    target: string,
    ok: (v: number) => boolean,
    failures = 0,
  ): TargetCheck => {
    const v = value ?? Number.NaN;
    const suffix = failures > 0 ? ` [INVALID: ${failures} requests failed]` : '';
    return {
      name: name + suffix,
      value: v,
      unit,
      target,
      met: Number.isFinite(v) ? failures === 0 && ok(v) : null,
    };
  };
  const T = ROUTER_TARGETS;
  return [
    check(
      'throughput, router ÷ nginx (1 worker)',
      routerT && nginxT ? routerT.wrk.rps / nginxT.wrk.rps : undefined,
      '×',
      `≥ ${T.throughputVsNginx}`,
      (v) => v >= T.throughputVsNginx,
      failed(routerT, nginxT),
    ),
    check(
      'router CPU per proxied request (saturating run)',
      routerT?.proxyCpuUsPerReq,
      'µs',
      `≤ ${T.cpuUsPerRequest}`,
      (v) => v <= T.cpuUsPerRequest,
      failed(routerT),
    ),
    check(
      'added latency p50 (router − direct, latency run)',
      routerL && directL ? routerL.wrk.p50Ms - directL.wrk.p50Ms : undefined,
      'ms',
      `≤ ${T.addedLatencyP50Ms}`,
      (v) => v <= T.addedLatencyP50Ms,
      failed(routerL, directL),
    ),
    check(
      'flip p99 (admin request → old colour gets no new request)',
      flip?.flip.p99,
      'ms',
      `≤ ${T.flipP99Ms}`,
      (v) => v <= T.flipP99Ms,
      flip?.load.failures ?? 0,
    ),
    check(
      `router RSS with ${memory?.openAtRead ?? '?'} idle connections`,
      memory ? memory.rssWith / 2 ** 20 : undefined,
      'MiB',
      `≤ ${T.rssMb}`,
      (v) => v <= T.rssMb,
      memory?.failed ?? 0,
    ),
  ];
}

const fmt = (v: number) =>
  !Number.isFinite(v) ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3).replace(/\.?0+$/, '');

/** Runs the whole router benchmark (bounded: a few seconds past its load durations). */
export async function runRouterBench(
  options: Partial<RouterBenchOptions> = {},
): Promise<{ lines: string[]; results: RouterBenchResults }> {
  const o = { ...DEFAULT_ROUTER_BENCH, ...options };
  const wrk = wrkBinary();
  if (wrk === null) {
    const notes = ['router: wrk is not installed (apt-get install wrk): the router benchmark was skipped'];
    return { lines: notes, results: { load: [], flip: null, memory: null, targets: [], notes } };
  }
  const loadS = (o.warmupS + o.durationS + o.latencyDurationS) * (o.nginxAuto ? 4 : 3);
  const budgetMs = (loadS + o.idleWatchS + 30 + o.flips / 10) * 1000;
  const load1 = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadBefore = load1();
  const track = new Tracker();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void track.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await withDeadline('router benchmark', budgetMs, async () => {
      const app = track.add(await startApp('1.0.0'));
      const routerChild = track.add(await startRouter([`blue=1.0.0@${app.ready.port}`]));
      const control = loopback(routerChild.ready.control);
      const router = { port: routerChild.ready.port, control };
      const fresh = await json<RouterUsage>(control, 'GET', '/usage');
      let load: LoadRow[];
      let notes: string[];
      let memory: MemoryResult;
      try {
        ({ rows: load, notes } = await runRouterThroughput(app, router, { wrk, ...o }, track));
        memory = await runRouterMemory(router, { idle: o.idle, watchS: o.idleWatchS, fresh }, track);
      } finally {
        await control.close().catch(() => undefined);
        await track.stopAll();
      }
      const flip = await runRouterFlip(
        { wrk, n: o.flips, warmup: o.flipWarmup, clients: o.flipClients },
        track,
      );
      const checks = targets(load, flip, memory);
      const lines = [
        `router: wrk -t${o.threads}, Host: bench.test; app, router and nginx each in their own process; ${cpus().length} CPUs shared by all of them and wrk`,
        `load average before ${loadBefore}, after ${load1()} (other work on the machine inflates CPU per request and tails)`,
        `load: -c${o.connections} for ${o.durationS} s (saturating) and -c${o.latencyConnections} for ${o.latencyDurationS} s (latency), each after a ${o.warmupS} s warm-up at -c${o.connections}`,
        ...loadTable(load),
        ...load
          .filter((r) => r.wrk.failures > 0)
          .map(
            (r) =>
              `WARNING: ${r.path} (-c${r.connections}): ${r.wrk.failures} of ${r.wrk.requests} requests failed (non-2xx or socket errors); its figures are not valid`,
          ),
        ...notes,
        `flip: ${flip.n} flips (after ${o.flipWarmup} not counted) under wrk -c${o.flipClients}; the load saw ${flip.load.failures} failed of ${flip.load.requests} requests; ${flip.stragglerFlips} flips where a request dispatched just before the switch reached the old colour after it`,
        header(),
        row('admin request sent → old colour gets no new request', flip.flip, 3),
        row('admin request sent → activate() done', flip.activate, 3),
        row('admin request sent → its answer received', flip.admin, 3),
        ...memoryLines(memory, o.idleWatchS),
        'targets:',
        ...checks.map(
          (c) =>
            `  ${c.name}: ${fmt(c.value)} ${c.unit} (target ${c.target}) → ${c.met === null ? 'no data' : c.met ? 'met' : 'MISSED'}`,
        ),
      ];
      return { lines, results: { load, flip, memory, targets: checks, notes } };
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Also what a deadline leaves running; nothing may start after this.
    await track.close();
    // Interrupted: what failed after the signal is only the consequence of stopping.
    if (interrupted) process.exit(130);
  }
}

if (import.meta.main) {
  const d = DEFAULT_ROUTER_BENCH;
  const { lines } = await runRouterBench({
    threads: intFlag('threads', d.threads),
    connections: intFlag('connections', d.connections),
    durationS: intFlag('duration', d.durationS),
    latencyConnections: intFlag('latency-connections', d.latencyConnections),
    latencyDurationS: intFlag('latency-duration', d.latencyDurationS),
    warmupS: intFlag('warmup', d.warmupS),
    nginxAuto: !process.argv.includes('--no-nginx-auto'),
    flips: intFlag('flips', d.flips),
    flipWarmup: intFlag('flip-warmup', d.flipWarmup),
    flipClients: intFlag('flip-clients', d.flipClients),
    idle: intFlag('idle', d.idle),
    idleWatchS: intFlag('idle-watch', d.idleWatchS),
  });
  console.log(lines.join('\n'));
}
