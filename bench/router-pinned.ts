/**
 * The router against nginx and HAProxy in the pinned layout of issue 24: every proxy and the app
 * share CPU 0 (`taskset`), wrk runs alone on CPU 1, and the proxies take turns (interleaved
 * repetitions) so a change in the machine's load hits them all alike. The router runs twice: as
 * it was at `--before` (a snapshot of that commit's `src/`) and as it is now. See README.md
 * ("router-pinned").
 * Usage: node router-pinned.ts [--reps 3] [--duration 8] [--latency-duration 4] [--flips 200]
 *        [--idle 5000] [--before <commit>] [--only nginx,haproxy,before,after,after-node,dist,dist-node,…]
 */
import { loadavg } from 'node:os';
import { intFlag, withDeadline } from './lib/cutover-process.ts';
import { Tracker } from './lib/child-process.ts';
import { startPinnedProxy } from './lib/pinned-proxies.ts';
import type { PinnedProxy, ProxySpec } from './lib/pinned-proxies.ts';
import { cpuOf, rssOf } from './lib/proc-stat.ts';
import { BENCH_HOST, startApp, startIdleClients } from './lib/router-procs.ts';
import { builtRouter, routerSnapshot } from './lib/router-snapshot.ts';
import { runWrk, wrkBinary } from './lib/wrk.ts';
import { pinnedTable, summariseRuns } from './lib/pinned-report.ts';
import type { PinnedRun, PinnedSummary } from './lib/pinned-report.ts';
import { runRouterFlip } from './router-flip.ts';

/** The commit whose router is "before" in issue 24: main when the work began. */
export const ISSUE_24_BEFORE = '732732d';
const PROXY_CPU = 0;
const LOAD_CPU = 1;

export interface PinnedOptions {
  reps: number;
  durationS: number;
  latencyDurationS: number;
  warmupS: number;
  connections: number;
  flips: number;
  idle: number;
  before: string;
  /** Which proxies to run (names of `specs()`). */
  only: string[] | null;
}

export const DEFAULT_PINNED: PinnedOptions = {
  reps: 3,
  durationS: 8,
  latencyDurationS: 4,
  warmupS: 2,
  connections: 64,
  flips: 200,
  idle: 5000,
  before: ISSUE_24_BEFORE,
  only: null,
};

/**
 * `--try name=flags…` (repeatable): this tree's router with other Node flags, named `name`; a name
 * starting with `dist` runs the built package (as the `dist` proxy) with those flags.
 */
function tried(built: { routerModule: string; child: string } | null): ProxySpec[] {
  const out: ProxySpec[] = [];
  process.argv.forEach((a, i) => {
    const v = process.argv[i + 1];
    if (a !== '--try' || v === undefined) return;
    const eq = v.indexOf('=');
    const name = v.slice(0, eq);
    const agentFlags = v.slice(eq + 1).split(' ').filter(Boolean);
    const where = name.startsWith('dist') && built ? { module: built.routerModule, child: built.child } : {};
    out.push({ name, kind: 'router', router: { ...where, agentFlags } });
  });
  return out;
}

async function specs(o: PinnedOptions): Promise<ProxySpec[]> {
  const snapshot = await routerSnapshot(o.before);
  const { AGENT_NODE_FLAGS: beforeFlags } = (await import(snapshot.sharedModule)) as {
    AGENT_NODE_FLAGS: readonly string[];
  };
  const all: ProxySpec[] = [
    { name: 'nginx', kind: 'nginx' },
    { name: 'haproxy', kind: 'haproxy' },
    {
      name: 'before',
      kind: 'router',
      router: { module: snapshot.routerModule, agentFlags: beforeFlags },
    },
    { name: 'after', kind: 'router', router: {} },
    // This tree's router without its fast path (ADR 0030): node:http parses every request.
    { name: 'after-node', kind: 'router', router: { childFlags: ['--no-fast-path'] } },
    // Spikes and options, run only when named in --only:
    { name: 'bare-undici', kind: 'script', script: 'bare-proxy.ts' },
    { name: 'raw-upstream', kind: 'script', script: 'raw-upstream-proxy.ts' },
    // Two routers on one port (SO_REUSEPORT): both on the proxy CPU, or free to use both CPUs.
    { name: 'reuseport-pinned', kind: 'reuseport', processes: 2, cpus: String(PROXY_CPU) },
    { name: 'reuseport-2cpu', kind: 'reuseport', processes: 2, cpus: `${PROXY_CPU},${LOAD_CPU}` },
  ];
  const wantsBuilt = o.only === null || o.only.some((n) => n.startsWith('dist') || n === 'before-dist');
  const built = wantsBuilt ? await builtRouter() : null;
  if (built !== null) {
    all.push(
      {
        name: 'before-dist',
        kind: 'router',
        router: { module: snapshot.built(), child: built.child, agentFlags: beforeFlags },
      },
      { name: 'dist', kind: 'router', router: { module: built.routerModule, child: built.child } },
      // The built package without its fast path (ADR 0030): the router as of main before it.
      {
        name: 'dist-node',
        kind: 'router',
        router: { module: built.routerModule, child: built.child, childFlags: ['--no-fast-path'] },
      },
    );
  }
  all.push(...tried(built));
  const standard = ['nginx', 'haproxy', 'before', 'after', 'after-node', 'before-dist', 'dist', 'dist-node'];
  return all.filter((s) => (o.only === null ? standard.includes(s.name) : o.only.includes(s.name)));
}

/** One measured wrk run against one proxy: its report, and CPU deltas from /proc. */
async function measure(
  proxy: PinnedProxy,
  appPid: number,
  connections: number,
  durationS: number,
  wrk: string,
  track: Tracker,
): Promise<PinnedRun> {
  const proxy0 = await cpuOf(proxy.pids);
  const app0 = await cpuOf([appPid]);
  const { raw: _raw, ...report } = await runWrk(
    {
      url: `http://127.0.0.1:${proxy.port}/`,
      threads: 1,
      connections,
      durationS,
      host: BENCH_HOST,
      cpu: LOAD_CPU,
    },
    wrk,
    track,
  );
  const proxy1 = await cpuOf(proxy.pids);
  const app1 = await cpuOf([appPid]);
  const n = Math.max(1, report.requests);
  return {
    proxy: proxy.name,
    connections,
    wrk: report,
    proxyUserUs: (proxy1.userUs - proxy0.userUs) / n,
    proxySystemUs: (proxy1.systemUs - proxy0.systemUs) / n,
    appUs: (app1.userUs + app1.systemUs - app0.userUs - app0.systemUs) / n,
  };
}

/** RSS of the proxy with `idle` keep-alive connections open (each has had one answer). */
async function idleRss(
  proxy: PinnedProxy,
  idle: number,
  track: Tracker,
): Promise<{ rss: number; open: number }> {
  const holder = track.add(await startIdleClients(proxy.port, idle));
  try {
    const count = JSON.parse(await holder.ask('count')) as { open: number };
    return { rss: await rssOf(proxy.pids), open: count.open };
  } finally {
    await track.stop(holder);
  }
}

const load1 = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Runs the whole pinned comparison; bounded in time, stops everything it started. */
export async function runRouterPinned(
  options: Partial<PinnedOptions> = {},
): Promise<{ lines: string[]; summary: PinnedSummary[] }> {
  const o = { ...DEFAULT_PINNED, ...options };
  const wrk = wrkBinary();
  if (wrk === null) return { lines: ['router-pinned: wrk is not installed: skipped'], summary: [] };
  const list = await specs(o);
  const perRep = list.length * (o.warmupS + o.durationS + o.latencyDurationS + 4);
  const budgetMs = (o.reps * perRep + 40 * list.length + (o.flips / 5) * 2 + 60) * 1000;
  const loadBefore = load1();
  const track = new Tracker();
  const stopOnSignal = () => void track.close().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    return await withDeadline('router-pinned benchmark', budgetMs, async () => {
      const app = track.add(await startApp('1.0.0', PROXY_CPU));
      const proxies: PinnedProxy[] = [];
      const missing: string[] = [];
      for (const spec of list) {
        const p = await startPinnedProxy(spec, app.ready.port, PROXY_CPU);
        if (p === null) missing.push(spec.name);
        else proxies.push(track.add(p));
      }
      const runs: PinnedRun[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        // Rotate the order each repetition so no proxy always runs right after the same other one.
        const order = proxies.map((_, i) => proxies[(i + rep) % proxies.length] as PinnedProxy);
        for (const p of order) {
          await measure(p, app.pid, o.connections, o.warmupS, wrk, track);
          runs.push(await measure(p, app.pid, o.connections, o.durationS, wrk, track));
          runs.push(await measure(p, app.pid, 1, o.latencyDurationS, wrk, track));
        }
      }
      const rss = new Map<string, { rss: number; open: number }>();
      for (const p of proxies) rss.set(p.name, await idleRss(p, o.idle, track));
      const loadAfterLoad = load1();
      await track.stopAll();
      const flips = new Map<string, Awaited<ReturnType<typeof runRouterFlip>>>();
      for (const p of proxies) {
        if (p.router === undefined || o.flips === 0) continue;
        const flip = await runRouterFlip(
          {
            wrk,
            n: o.flips,
            warmup: 10,
            clients: 8,
            router: p.router,
            cpus: { proxy: PROXY_CPU, load: LOAD_CPU },
          },
          track,
        );
        flips.set(p.name, flip);
      }
      const summary = summariseRuns(runs, rss, flips);
      const lines = [
        `router-pinned: proxies and the app on CPU ${PROXY_CPU}, wrk -t1 on CPU ${LOAD_CPU}; ${o.reps} interleaved repetitions of -c${o.connections} for ${o.durationS} s (after ${o.warmupS} s warm-up) and -c1 for ${o.latencyDurationS} s; medians over the repetitions`,
        `"before" is the router of ${o.before}; load average before ${loadBefore}, after the load runs ${loadAfterLoad}, at the end ${load1()}`,
        ...(missing.length > 0 ? [`not installed, skipped: ${missing.join(', ')}`] : []),
        ...pinnedTable(summary, o.idle),
      ];
      return { lines, summary };
    });
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await track.close();
  }
}

function listFlag(name: string): string[] | null {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  return raw === undefined ? null : raw.split(',').filter(Boolean);
}

if (import.meta.main) {
  const d = DEFAULT_PINNED;
  const before = process.argv.indexOf('--before');
  const { lines } = await runRouterPinned({
    reps: intFlag('reps', d.reps),
    durationS: intFlag('duration', d.durationS),
    latencyDurationS: intFlag('latency-duration', d.latencyDurationS),
    warmupS: intFlag('warmup', d.warmupS),
    connections: intFlag('connections', d.connections),
    flips: intFlag('flips', d.flips),
    idle: intFlag('idle', d.idle),
    before: (before >= 0 ? process.argv[before + 1] : undefined) ?? d.before,
    only: listFlag('only'),
  });
  console.log(lines.join('\n'));
}
