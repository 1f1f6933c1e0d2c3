/**
 * Where the router's CPU per request goes, under a saturating wrk load (a router child alone,
 * with the bench app). Two profilers, one per run so they do not distort each other:
 *   --with perf      (default when `perf` works) on-CPU samples: kernel vs JS vs V8 vs C++;
 *   --with cpu-prof  V8's `--cpu-prof`: JS self time per function (wall-clock samples, so time the
 *                    router spends descheduled inside a syscall is charged to that syscall).
 * Not a benchmark: profilers slow the router a little.
 * Usage: node profile/router-cpu.ts [--with perf|cpu-prof] [--duration 6] [--connections 64] [--top 25] [--keep]
 *        [--before <commit>]  (profile that commit's router instead, as router-pinned.ts runs it)
 *        [--pinned]          (router and app on CPU 0, wrk on CPU 1, as in router-pinned.ts)
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag } from '../lib/cutover-process.ts';
import { stopAll } from '../lib/child-process.ts';
import type { BenchChild } from '../lib/child-process.ts';
import { profileLines } from '../lib/cpuprofile.ts';
import type { CpuProfile } from '../lib/cpuprofile.ts';
import { perfAvailable, perfLines, startPerf } from '../lib/perf-report.ts';
import { BENCH_HOST, json, loopback, startApp, startRouter } from '../lib/router-procs.ts';
import type { RouterUsage } from '../lib/router-procs.ts';
import { runWrk, wrkBinary } from '../lib/wrk.ts';
import { routerSnapshot } from '../lib/router-snapshot.ts';
import type { RouterStart } from '../lib/router-procs.ts';

const wrk = wrkBinary();
if (wrk === null) throw new Error('wrk is not installed (apt-get install wrk)');
const i = process.argv.indexOf('--with');
const using = (i >= 0 ? process.argv[i + 1] : undefined) ?? (perfAvailable() ? 'perf' : 'cpu-prof');
if (using !== 'perf' && using !== 'cpu-prof')
  throw new Error(`--with must be perf or cpu-prof, not "${using}"`);
const durationS = intFlag('duration', 6);
const connections = intFlag('connections', 64);
const top = intFlag('top', 25);
const keep = process.argv.includes('--keep');
const pinned = process.argv.includes('--pinned');
const b = process.argv.indexOf('--before');
const beforeRev = b >= 0 ? process.argv[b + 1] : undefined;
const routerStart: RouterStart = {};
if (beforeRev !== undefined) {
  const snapshot = await routerSnapshot(beforeRev);
  routerStart.module = snapshot.routerModule;
  routerStart.agentFlags = ((await import(snapshot.sharedModule)) as { AGENT_NODE_FLAGS: string[] }).AGENT_NODE_FLAGS;
}
const proxyCpu = pinned ? 0 : undefined;
const loadCpu = pinned ? 1 : undefined;
const dir = await mkdtemp(join(tmpdir(), 'cutover-router-prof-'));
const started: BenchChild<unknown>[] = [];
let routerPid = 0;

/** Every request the app answered: what a whole-life `--cpu-prof` profile covers. */
async function appHits(app: BenchChild<{ port: number }>): Promise<number> {
  const c = loopback(app.ready.port);
  try {
    return (await json<{ hits: number }>(c, 'GET', '/__bench/stats')).hits;
  } finally {
    await c.close();
  }
}

try {
  const app = await startApp('1.0.0', proxyCpu);
  started.push(app);
  const flags = using === 'perf' ? ['--perf-basic-prof'] : ['--cpu-prof', '--cpu-prof-dir', dir];
  const router = await startRouter([`blue=1.0.0@${app.ready.port}`], { ...routerStart, nodeFlags: flags, cpu: proxyCpu });
  started.push(router);
  routerPid = router.pid;
  const control = loopback(router.ready.control);
  const url = `http://127.0.0.1:${router.ready.port}/`;
  // Warm-up, so the JIT has settled before the measured run.
  await runWrk({ url, threads: 1, connections, durationS: 2, host: BENCH_HOST, cpu: loadCpu }, wrk);
  const perf = using === 'perf' ? startPerf(router.pid, join(dir, 'router.perf')) : null;
  const before = await json<RouterUsage>(control, 'GET', '/usage');
  const result = await runWrk({ url, threads: 1, connections, durationS, host: BENCH_HOST, cpu: loadCpu }, wrk);
  const after = await json<RouterUsage>(control, 'GET', '/usage');
  await perf?.stop();
  await control.close();
  const per = (a: number, b: number) => (b - a) / result.requests;
  const cpuPerReq = per(before.cpuUs, after.cpuUs);
  console.log(
    `router under wrk -t1 -c${connections} for ${durationS} s, profiled with ${using}: ${result.rps.toFixed(0)} req/s, ` +
      `process.cpuUsage ${cpuPerReq.toFixed(1)} µs per request = ${per(before.userUs, after.userUs).toFixed(1)} user + ` +
      `${per(before.systemUs, after.systemUs).toFixed(1)} system`,
  );
  if (perf) {
    console.log((await perfLines(join(dir, 'router.perf'), cpuPerReq, top)).join('\n'));
  } else {
    const served = await appHits(app);
    // SIGTERM makes the child exit normally, which is when --cpu-prof writes the profile.
    await router.stop(10_000);
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`the router wrote no profile in ${dir}`);
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    // The profile covers the router's whole life (start-up and warm-up too), so its per-request
    // figures divide by every request the app answered, not only the measured run's.
    console.log(profileLines(profile, served, top).join('\n'));
  }
  if (keep) console.log(`profile kept in ${dir}`);
} finally {
  await stopAll(started);
  if (!keep) await rm(dir, { recursive: true, force: true });
  // --perf-basic-prof leaves its JIT symbol map in /tmp.
  if (routerPid > 0 && !keep) await rm(`/tmp/perf-${routerPid}.map`, { force: true });
}
