/**
 * Router memory with many idle keep-alive client connections. See README.md ("router", memory).
 */
import type { Client } from 'undici';
import { json, startIdleClients } from './lib/router-procs.ts';
import type { RouterUsage } from './lib/router-procs.ts';
import type { Tracker } from './lib/child-process.ts';

export interface MemoryOptions {
  /** Idle connections to open. */
  idle: number;
  /** How long to watch whether the router keeps them open, seconds (0: do not watch). */
  watchS: number;
  /** The router's usage right after it started, before any load (shown for comparison). */
  fresh?: RouterUsage;
}

export interface MemoryResult {
  requested: number;
  opened: number;
  failed: number;
  /** Time to open them all (each: connect, one GET, whole answer), ms. */
  openMs: number;
  /** Router RSS right after start-up, before any load (NaN: not read); bytes. */
  rssFresh: number;
  /** Router RSS before (after a GC), with the connections (as is), and with them after a GC; bytes. */
  rssBefore: number;
  rssWith: number;
  rssWithAfterGc: number;
  /** V8 heap (total, used) and `external` with the connections, after the GC; bytes. */
  heapTotal: number;
  heapUsed: number;
  external: number;
  /** Still open when RSS was read. */
  openAtRead: number;
  /** Still open after `watchS` seconds of silence, and when the first one was closed (s; NaN: none). */
  openAfterWatch: number;
  firstClosedAfterS: number;
}

/** Opens `idle` connections to the router (in a child) and reads the router's RSS via `control`. */
export async function runRouterMemory(
  router: { port: number; control: Client },
  o: MemoryOptions,
  track: Tracker,
): Promise<MemoryResult> {
  const usage = () => json<RouterUsage>(router.control, 'GET', '/usage');
  await json(router.control, 'POST', '/gc');
  const rssBefore = (await usage()).rss;
  const holder = track.add(await startIdleClients(router.port, o.idle));
  try {
    const rssWith = (await usage()).rss;
    const count = async () => (JSON.parse(await holder.ask('count')) as { open: number }).open;
    const openAtRead = await count();
    await json(router.control, 'POST', '/gc');
    const afterGc = await usage();
    const openedAt = performance.now();
    let openAfterWatch = openAtRead;
    let firstClosedAfterS = Number.NaN;
    const deadline = openedAt + o.watchS * 1000;
    while (performance.now() < deadline) {
      // A coarse watch is enough: this only tells whether the router drops idle clients, and when.
      await new Promise((resolve) => setTimeout(resolve, 250));
      openAfterWatch = await count();
      if (openAfterWatch < openAtRead && Number.isNaN(firstClosedAfterS))
        firstClosedAfterS = (performance.now() - openedAt) / 1000 + holder.ready.ms / 1000;
    }
    return {
      requested: o.idle,
      opened: holder.ready.open,
      failed: holder.ready.failed,
      openMs: holder.ready.ms,
      rssFresh: o.fresh?.rss ?? Number.NaN,
      rssBefore,
      rssWith,
      rssWithAfterGc: afterGc.rss,
      heapTotal: afterGc.heapTotal,
      heapUsed: afterGc.heapUsed,
      external: afterGc.external,
      openAtRead,
      openAfterWatch,
      firstClosedAfterS,
    };
  } finally {
    await track.stop(holder);
  }
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);

/** The report lines of a memory run. */
export function memoryLines(m: MemoryResult, watchS: number): string[] {
  const perConn = (m.rssWith - m.rssBefore) / Math.max(1, m.openAtRead);
  return [
    `idle keep-alive connections: ${m.opened} of ${m.requested} opened in ${m.openMs} ms (${m.failed} failed); ${m.openAtRead} open when RSS was read`,
    `router RSS: ${mb(m.rssFresh)} MiB at start-up, no load yet; ${mb(m.rssBefore)} MiB after the load runs (after a GC) → ${mb(m.rssWith)} MiB with the idle connections (${mb(m.rssWithAfterGc)} MiB after a GC: V8 heap ${mb(m.heapUsed)} used of ${mb(m.heapTotal)}, external ${mb(m.external)}); ≈ ${(perConn / 1024).toFixed(1)} KiB per connection`,
    watchS > 0
      ? Number.isNaN(m.firstClosedAfterS)
        ? `after ${watchS} s idle: all ${m.openAfterWatch} still open`
        : `after ${watchS} s idle: ${m.openAfterWatch} still open; the router began closing idle connections ≈ ${m.firstClosedAfterS.toFixed(1)} s after the first were opened (its keep-alive timeout)`
      : '',
  ].filter((l) => l !== '');
}
