/**
 * Flip latency under load: how long from the admin request until the old colour gets no new
 * request. See README.md ("router", flip).
 */
import type { Client } from 'undici';
import { epochMs, Tracker } from './lib/child-process.ts';
import type { Stoppable } from './lib/child-process.ts';
import { BENCH_HOST, json, loopback, startApp, startRouter } from './lib/router-procs.ts';
import type { RouterStart } from './lib/router-procs.ts';
import { summarise } from './lib/stats.ts';
import { waitFor } from '../src/testing/index.ts';
import type { Summary } from './lib/stats.ts';
import { startWrk } from './lib/wrk.ts';
import type { WrkResult } from './lib/wrk.ts';

/** Each check is itself a request to the router, so checks run back to back, with no pause. */
const BACK_TO_BACK = (timeoutMs: number) => ({ timeoutMs, intervalMs: 0 });

export interface FlipOptions {
  wrk: string;
  /** Measured flips, alternating blue → green → blue… */
  n: number;
  /** Flips first, not counted. */
  warmup: number;
  /** Keep-alive connections of the background load (wrk, one thread). */
  clients: number;
  /** Which router to start and where (default: this tree's, unpinned). */
  router?: RouterStart;
  /** Pinning: the apps and the router on `proxy`, wrk on `load` (`taskset -c`). */
  cpus?: { proxy: number; load: number };
}

export interface FlipResult {
  n: number;
  /** Admin request sent → max(activate() done, old colour's last request arrived). */
  flip: Summary;
  /** Admin request sent → activate() done (router clock). */
  activate: Summary;
  /** Admin request sent → its answer received. */
  admin: Summary;
  /** Flips where the old colour still received a request after activate() (dispatched before it). */
  stragglerFlips: number;
  /** The background load's report (every request must succeed). */
  load: Omit<WrkResult, 'raw'>;
}

interface AppStats {
  hits: number;
  lastAt: number;
}

const other = (c: 'blue' | 'green') => (c === 'blue' ? 'green' : 'blue');

/** Requests on `color` still in flight per the router's `state()`; undefined if it does not say. */
function inFlight(state: unknown, color: string): number | undefined {
  if (!Array.isArray(state)) return undefined;
  const slots = (state as { name?: string; slots?: { color?: string; inFlight?: unknown }[] }[]).find(
    (i) => i.name === 'bench',
  )?.slots;
  const n = slots?.find((s) => s.color === color)?.inFlight;
  return typeof n === 'number' ? n : undefined;
}

/**
 * Starts two app colours and a router with both, then flips `warmup + n` times under wrk load.
 * Its processes are on `track` while they run (so a caller's signal handler can stop them).
 */
export async function runRouterFlip(o: FlipOptions, track: Tracker = new Tracker()): Promise<FlipResult> {
  const clients: Client[] = [];
  const mine: Stoppable[] = [];
  const start = <T extends Stoppable>(item: T): T => {
    mine.push(item);
    return track.add(item);
  };
  try {
    const cpu = o.cpus?.proxy;
    const blue = start(await startApp('1.0.0', cpu));
    const green = start(await startApp('2.0.0', cpu));
    const router = start(
      await startRouter([`blue=1.0.0@${blue.ready.port}`, `green=2.0.0@${green.ready.port}`], {
        ...o.router,
        cpu,
      }),
    );
    const control = loopback(router.ready.control);
    const apps = { blue: loopback(blue.ready.port), green: loopback(green.ready.port) };
    clients.push(control, apps.blue, apps.green);
    const stats = (c: 'blue' | 'green') => json<AppStats>(apps[c], 'GET', '/__bench/stats');

    const load = startWrk(
      {
        url: `http://127.0.0.1:${router.ready.port}/`,
        threads: 1,
        connections: o.clients,
        durationS: 30 + Math.ceil((o.n + o.warmup) / 10),
        host: BENCH_HOST,
        cpu: o.cpus?.load,
      },
      o.wrk,
    );
    start(load);
    await waitFor('the load to reach blue', async () => (await stats('blue')).hits > 100, BACK_TO_BACK(5_000));

    const flip: number[] = [];
    const activate: number[] = [];
    const admin: number[] = [];
    let stragglerFlips = 0;
    let active: 'blue' | 'green' = 'blue';
    for (let i = 0; i < o.warmup + o.n; i++) {
      const to = other(active);
      const before = (await stats(to)).hits;
      const t0 = epochMs();
      const { activatedAt } = await json<{ activatedAt: number }>(control, 'POST', `/flip?color=${to}`);
      const t1 = epochMs();
      // Settled: nothing left in flight on the old colour, and the load has moved on (every
      // connection served twice by the new one), so the old app's last arrival is final.
      await waitFor(`flip ${i} to settle`, async () => {
        const busy = inFlight(await json<unknown>(control, 'GET', '/state'), active) ?? 0;
        return busy === 0 && (await stats(to)).hits - before >= 2 * o.clients;
      }, BACK_TO_BACK(3_000));
      const last = (await stats(active)).lastAt;
      if (i >= o.warmup) {
        flip.push(Math.max(activatedAt, last) - t0);
        activate.push(activatedAt - t0);
        admin.push(t1 - t0);
        if (last > activatedAt) stragglerFlips++;
      }
      active = to;
    }
    const { raw: _raw, ...report } = await load.stop();
    return {
      n: flip.length,
      flip: summarise(flip),
      activate: summarise(activate),
      admin: summarise(admin),
      stragglerFlips,
      load: report,
    };
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const item of mine.reverse()) await track.stop(item);
  }
}
