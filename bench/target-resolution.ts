/**
 * Resolves the targets of a large fleet (default 100,000 instances across 4 channels, plus some
 * pinned to a version) and lists it a page at a time, on SQLite and on PostgreSQL (a throwaway
 * cluster). Target: resolving every instance ≤ 1 s.
 * Usage: node bench/target-resolution.ts [--instances 100000] [--runs 5] [--page 500]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../src/shared/index.ts';
import { createPostgresStore, createSqliteStore } from '../src/store/index.ts';
import { startTestCluster } from '../src/testing/index.ts';
import type { InstanceRecord, Store } from '../src/store/index.ts';
import { listInstanceViews } from '../src/control/index.ts';
import { pointerIndex, resolveTarget } from '../src/fleet/index.ts';
import { intFlag } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

export const RESOLUTION_TARGET_MS = 1000;
const CHANNELS = ['alpha', 'beta', 'release', 'stable'];
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0-beta.1', '1.3.0'];
const ZONES = ['production', 'test', 'staging'];

function instance(i: number): InstanceRecord {
  const name = `site-${String(i).padStart(6, '0')}`;
  // 90 % follow a channel, 10 % are pinned to a version; current versions are spread out.
  const target = i % 10 === 9 ? { version: VERSIONS[i % 3]! } : { channel: CHANNELS[i % 4]! };
  return {
    name,
    app: 'shop',
    hosts: [`${name}.example.test`],
    environment: ZONES[i % 3]!,
    tenant: `tenant-${i % 5000}`,
    labels: { region: i % 2 ? 'eu' : 'us' },
    target,
    window: null,
    placement: null,
    currentVersion: VERSIONS[i % VERSIONS.length]!,
    activeColor: 'blue',
    slots: { blue: { version: VERSIONS[i % VERSIONS.length]!, status: 'live', deploymentId: `d-${i}` }, green: null },
    createdAt: 1,
    updatedAt: 1,
  };
}

async function seed(store: Store, n: number, progress: (line: string) => void): Promise<void> {
  for (const version of VERSIONS) {
    await store.insertRelease({ app: 'shop', version, digest: `d-${version}`, spec: { app: 'shop', version }, createdAt: 1, createdBy: 'bench' });
  }
  for (const [k, channel] of CHANNELS.entries()) {
    const at = 1000 + k;
    await store.moveChannel(
      { app: 'shop', channel, fromVersion: null, toVersion: VERSIONS[k + 1]!, at, actor: 'bench', reason: null, forced: false },
      { at, actor: 'bench', action: 'channel.promote', subject: channel },
    );
  }
  const batch = 64; // concurrent inserts: a networked store is round-trip bound
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => store.insertInstance(instance(i + k))));
    if ((i + batch) % 20_000 < batch) progress(`  seeded ${Math.min(i + batch, n)} instances`);
  }
}

export interface ResolutionResult {
  store: string;
  n: number;
  resolve: Summary;
  onTarget: number;
  pageTotal: Summary;
  page: Summary;
  pages: number;
}

async function measure(name: string, store: Store, n: number, runs: number, pageSize: number): Promise<ResolutionResult> {
  const resolve: number[] = [];
  let onTarget = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const [instances, pointers] = await Promise.all([store.listInstances(), store.listChannelPointers()]);
    const index = pointerIndex(pointers);
    let on = 0;
    for (const i of instances) {
      const t = resolveTarget(i, index);
      if (t.kind !== 'none' && t.onTarget) on++;
    }
    resolve.push(performance.now() - t0);
    if (instances.length !== n) throw new Error(`expected ${n} instances, listed ${instances.length}`);
    onTarget = on;
  }
  const totals: number[] = [];
  const pageTimes: number[] = [];
  let pages = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    let after: string | undefined;
    let seen = 0;
    pages = 0;
    for (;;) {
      const p0 = performance.now();
      const page = await listInstanceViews({ store, clock: systemClock }, { limit: pageSize, ...(after ? { after } : {}) });
      pageTimes.push(performance.now() - p0);
      seen += page.items.length;
      pages++;
      if (!page.next) break;
      after = page.next;
    }
    totals.push(performance.now() - t0);
    if (seen !== n) throw new Error(`paging saw ${seen} of ${n}`);
  }
  return { store: name, n, resolve: summarise(resolve), onTarget, pageTotal: summarise(totals), page: summarise(pageTimes), pages };
}

export async function runTargetResolution(options: { n: number; runs: number; page: number; log?: (line: string) => void }): Promise<{ results: ResolutionResult[]; lines: string[] }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const results: ResolutionResult[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'cutover-bench-'));
  try {
    log(`target-resolution: seeding SQLite with ${options.n} instances`);
    const sqlite = createSqliteStore(join(dir, 'cutover.db'));
    await seed(sqlite, options.n, log);
    results.push(await measure('sqlite', sqlite, options.n, options.runs, options.page));
    await sqlite.close();

    log('target-resolution: starting a throwaway PostgreSQL cluster');
    const cluster = await startTestCluster();
    try {
      const pg = await createPostgresStore(await cluster.createDatabase());
      log(`target-resolution: seeding PostgreSQL with ${options.n} instances`);
      await seed(pg, options.n, log);
      results.push(await measure('postgres', pg, options.n, options.runs, options.page));
      await pg.close();
    } finally {
      await cluster.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const lines = [`target-resolution: ${options.n} instances, 4 channels, ${options.runs} runs, pages of ${options.page}`, header()];
  for (const r of results) {
    lines.push(row(`${r.store}: resolve every target (list + resolve)`, r.resolve, 1));
    lines.push(row(`${r.store}: list all, page by page (${r.pages} pages)`, r.pageTotal, 1));
    lines.push(row(`${r.store}: one page of ${options.page}`, r.page, 2));
    lines.push(`  ${r.store}: ${r.onTarget} on target; resolution ≤ ${RESOLUTION_TARGET_MS} ms: ${verdict(r.resolve, RESOLUTION_TARGET_MS)}`);
  }
  return { results, lines };
}

if (import.meta.main) {
  const { lines } = await runTargetResolution({ n: intFlag('instances', 100_000), runs: intFlag('runs', 5), page: intFlag('page', 500) });
  console.log(lines.join('\n'));
}
