/**
 * Throughput, latency and CPU per request: the same app, the same wrk settings, straight to the
 * app, through the router and through nginx. See README.md ("router").
 */
import type { Client } from 'undici';
import { json, BENCH_HOST } from './lib/router-procs.ts';
import type { AppChild, RouterUsage } from './lib/router-procs.ts';
import { nginxBinary, startNginx } from './lib/nginx.ts';
import type { Nginx } from './lib/nginx.ts';
import type { Tracker } from './lib/child-process.ts';
import { cpuOf } from './lib/proc-stat.ts';
import type { CpuTime } from './lib/proc-stat.ts';
import { runWrk } from './lib/wrk.ts';
import type { WrkResult } from './lib/wrk.ts';

/** Load settings shared by every path. */
export interface LoadOptions {
  wrk: string;
  threads: number;
  /** Connections of the saturating run. */
  connections: number;
  durationS: number;
  /** Connections of the latency run (below saturation, so latency is not queueing). */
  latencyConnections: number;
  latencyDurationS: number;
  warmupS: number;
  /** Also measure nginx with `worker_processes auto` (one worker per core). */
  nginxAuto: boolean;
}

/** One wrk run on one path. */
export interface LoadRow {
  path: string;
  shape: 'throughput' | 'latency';
  connections: number;
  wrk: Omit<WrkResult, 'raw'>;
  /** CPU of the proxy (router or nginx master + workers) per completed request, µs; NaN direct. */
  proxyCpuUsPerReq: number;
  /** Its user and system parts, µs per request. */
  proxyUserUsPerReq: number;
  proxySystemUsPerReq: number;
  /** CPU of the app per completed request, µs (/proc, 10 ms grain). */
  appCpuUsPerReq: number;
}

interface Path {
  name: string;
  port: number;
  /** CPU of the proxy so far (undefined: no proxy). */
  cpu?: () => Promise<CpuTime>;
}

async function measure(path: Path, app: AppChild, o: LoadOptions, track: Tracker): Promise<LoadRow[]> {
  const url = `http://127.0.0.1:${path.port}/`;
  const base = { url, threads: o.threads, host: BENCH_HOST };
  // Warm-up: JIT, connection pools, nginx's upstream keep-alive; not counted.
  await runWrk({ ...base, connections: o.connections, durationS: o.warmupS }, o.wrk, track);
  const rows: LoadRow[] = [];
  const shapes = [
    { shape: 'throughput' as const, connections: o.connections, durationS: o.durationS },
    { shape: 'latency' as const, connections: o.latencyConnections, durationS: o.latencyDurationS },
  ];
  for (const s of shapes) {
    const none = { userUs: Number.NaN, systemUs: Number.NaN };
    const proxy0 = path.cpu ? await path.cpu() : none;
    const app0 = await cpuOf([app.pid]);
    const { raw: _raw, ...wrk } = await runWrk(
      { ...base, connections: s.connections, durationS: s.durationS },
      o.wrk,
      track,
    );
    const proxy1 = path.cpu ? await path.cpu() : none;
    const app1 = await cpuOf([app.pid]);
    const per = (a: number, b: number) => (b - a) / wrk.requests;
    const user = per(proxy0.userUs, proxy1.userUs);
    const system = per(proxy0.systemUs, proxy1.systemUs);
    rows.push({
      path: path.name,
      shape: s.shape,
      connections: s.connections,
      wrk,
      proxyCpuUsPerReq: user + system,
      proxyUserUsPerReq: user,
      proxySystemUsPerReq: system,
      appCpuUsPerReq: per(app0.userUs + app0.systemUs, app1.userUs + app1.systemUs),
    });
  }
  return rows;
}

/**
 * Measures every path against the running `app`: direct, through the router child (its `/usage`
 * on `control`), through nginx with 1 worker (and `auto`), started and stopped here. wrk runs and
 * nginx are on `track` while they run, for a signal handler.
 */
export async function runRouterThroughput(
  app: AppChild,
  router: { port: number; control: Client },
  o: LoadOptions,
  track: Tracker,
): Promise<{ rows: LoadRow[]; notes: string[] }> {
  const notes: string[] = [];
  const rows: LoadRow[] = [];
  rows.push(...(await measure({ name: 'direct to the app', port: app.ready.port }, app, o, track)));
  const routerCpu = async () => {
    const u = await json<RouterUsage>(router.control, 'GET', '/usage');
    return { userUs: u.userUs, systemUs: u.systemUs };
  };
  rows.push(
    ...(await measure({ name: 'through the router', port: router.port, cpu: routerCpu }, app, o, track)),
  );
  const binary = nginxBinary();
  if (binary === null) {
    notes.push('nginx: not installed (apt-get install nginx-light): its rows are skipped');
    return { rows, notes };
  }
  for (const workers of o.nginxAuto ? [1, 'auto' as const] : [1]) {
    let nginx: Nginx;
    try {
      nginx = await startNginx(binary, app.ready.port, workers);
    } catch (error) {
      notes.push(`nginx (${workers} workers) skipped: ${(error as Error).message}`);
      continue;
    }
    track.add(nginx);
    try {
      const label =
        workers === 1 ? 'through nginx (1 worker)' : `through nginx (auto: ${nginx.workers.length} workers)`;
      rows.push(...(await measure({ name: label, port: nginx.port, cpu: nginx.cpu }, app, o, track)));
    } finally {
      await track.stop(nginx);
    }
  }
  return { rows, notes };
}

const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '-');

/** The table of load rows, one line each. */
export function loadTable(rows: LoadRow[]): string[] {
  const cpu = (r: LoadRow) =>
    Number.isFinite(r.proxyCpuUsPerReq)
      ? `${f(r.proxyCpuUsPerReq, 1)} (${f(r.proxyUserUsPerReq, 0)}+${f(r.proxySystemUsPerReq, 0)})`
      : '-';
  const head = `${'path'.padEnd(34)} ${'conns'.padStart(5)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'proxy CPU µs/req (usr+sys)'.padStart(26)} ${'app CPU µs/req'.padStart(14)} ${'failed'.padStart(6)}`;
  return [
    head,
    ...rows.map(
      (r) =>
        `${r.path.padEnd(34)} ${String(r.connections).padStart(5)} ${f(r.wrk.rps, 0).padStart(7)} ${f(r.wrk.p50Ms, 3).padStart(7)} ${f(r.wrk.p99Ms, 3).padStart(7)} ${cpu(r).padStart(26)} ${f(r.appCpuUsPerReq, 1).padStart(14)} ${String(r.wrk.failures).padStart(6)}`,
    ),
  ];
}
