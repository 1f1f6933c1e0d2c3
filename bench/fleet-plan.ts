/**
 * Plans a large fleet (default 100,000 instances: 40 time zones, several window kinds, 4 channels
 * plus pinned versions, 2 % held, a history of attempts) with the pure planner, and the same
 * through the scheduler's read path on SQLite (load everything, then plan). Target: ≤ 2 s.
 * Usage: node bench/fleet-plan.ts [--instances 100000] [--runs 5]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSqliteStore } from '../src/store/index.ts';
import type { HoldRecord, InstanceRecord, Store } from '../src/store/index.ts';
import { DEFAULT_FLEET_POLICY, planFleet, pointerIndex } from '../src/fleet/index.ts';
import type { Attempt, FleetPolicy, PlanInput } from '../src/fleet/index.ts';
import { loadPlanInput } from '../src/scheduler/index.ts';
import { intFlag } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

export const PLAN_TARGET_MS = 2000;
const NOW = Date.parse('2026-11-23T01:30:00Z');
const ZONES = [
  'Europe/London', 'Europe/Berlin', 'Europe/Helsinki', 'Europe/Lisbon', 'Europe/Moscow', 'America/New_York', 'America/Chicago',
  'America/Denver', 'America/Los_Angeles', 'America/Sao_Paulo', 'America/Mexico_City', 'America/Toronto', 'America/Halifax',
  'America/St_Johns', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Shanghai', 'Asia/Singapore', 'Asia/Dubai',
  'Asia/Tehran', 'Asia/Jakarta', 'Asia/Seoul', 'Asia/Manila', 'Australia/Sydney', 'Australia/Adelaide', 'Australia/Perth',
  'Pacific/Auckland', 'Pacific/Chatham', 'Pacific/Honolulu', 'Africa/Cairo', 'Africa/Johannesburg', 'Africa/Lagos',
  'Atlantic/Azores', 'Europe/Dublin', 'Europe/Istanbul', 'America/Anchorage', 'America/Bogota', 'Asia/Karachi', 'UTC',
];
const WINDOWS = ['daily 01:00-04:00', 'weekdays 22:00-02:00', 'sat,sun 03:00-06:00', 'daily 00:30-01:30; sun 10:00-14:00'];
const CHANNELS = ['alpha', 'beta', 'release', 'stable'];
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0-beta.1', '1.3.0'];
const ENVS = ['test', 'staging', 'production', 'production', 'production'];

function instance(i: number): InstanceRecord {
  const name = `site-${String(i).padStart(6, '0')}`;
  const zone = ZONES[i % ZONES.length]!;
  return {
    name,
    app: 'shop',
    hosts: [`${name}.example.test`],
    environment: ENVS[i % ENVS.length]!,
    tenant: `tenant-${i % 5000}`,
    labels: { host: `host-${i % 200}` },
    target: i % 10 === 9 ? { version: VERSIONS[i % 3]! } : { channel: CHANNELS[i % 4]! },
    // One in 7 uses the environment default; the rest one of 160 windows (4 kinds × 40 zones).
    window: i % 7 === 0 ? null : `${WINDOWS[i % WINDOWS.length]!} ${zone}`,
    // 200 machines, each instance on one: the per-machine limit has work to do.
    placement: { machines: [`machine-${i % 200}`] },
    currentVersion: VERSIONS[i % VERSIONS.length]!,
    activeColor: 'blue',
    slots: { blue: { version: VERSIONS[i % VERSIONS.length]!, status: 'live', deploymentId: `d-${i}` }, green: null },
    createdAt: 1,
    updatedAt: 1,
  };
}

const policy: FleetPolicy = {
  ...DEFAULT_FLEET_POLICY,
  windows: { production: 'daily 01:00-04:00 Europe/London', test: 'anytime' },
  maxParallel: 50,
};

function syntheticInput(n: number): PlanInput {
  const instances = Array.from({ length: n }, (_, i) => instance(i));
  const holds = new Map<string, HoldRecord>();
  for (let i = 0; i < n; i += 50) holds.set(instances[i]!.name, { instance: instances[i]!.name, owner: 'ops', reason: 'bench', createdAt: 1, until: i % 100 ? null : NOW + 86_400_000 });
  const attempts: Attempt[] = [];
  for (let i = 3; i < n; i += 20) {
    attempts.push({ instance: instances[i]!.name, app: 'shop', version: VERSIONS[(i + 1) % VERSIONS.length]!, startedAt: NOW - 7_200_000, finishedAt: NOW - 7_100_000, outcome: i % 60 === 3 ? 'failed' : 'succeeded', error: i % 60 === 3 ? 'health check failed' : null, scheduled: true });
  }
  const pointers = CHANNELS.map((channel, k) => ({ app: 'shop', channel, version: VERSIONS[k + 1]!, movedAt: 1, movedBy: 'bench' }));
  const machines = new Map(instances.map((i) => [i.name, i.placement && 'machines' in i.placement ? i.placement.machines : []]));
  return { now: NOW, policy, instances, pointers: pointerIndex(pointers), holds, halts: [], attempts, machines };
}

async function seedStore(store: Store, input: PlanInput): Promise<void> {
  for (const version of VERSIONS) await store.insertRelease({ app: 'shop', version, digest: version, spec: { app: 'shop', version }, createdAt: 1, createdBy: 'bench' });
  for (const [k, channel] of CHANNELS.entries()) {
    await store.moveChannel({ app: 'shop', channel, fromVersion: null, toVersion: VERSIONS[k + 1]!, at: 1, actor: 'bench', reason: null, forced: false }, { at: 1, actor: 'bench', action: 'channel.promote', subject: channel });
  }
  for (const i of input.instances) await store.insertInstance(i);
  for (const h of input.holds.values()) await store.putHold(h, { at: 1, actor: 'ops', action: 'instance.hold', subject: h.instance });
  await store.putSetting('fleet.policy', policy, { at: 1, actor: 'bench', action: 'fleet.policy', subject: 'fleet' });
}

export interface PlanResult {
  n: number;
  pure: Summary;
  loadAndPlan: Summary;
  counts: Record<string, number>;
  upgrades: number;
}

export async function runFleetPlan(options: { n: number; runs: number; log?: (line: string) => void }): Promise<{ result: PlanResult; lines: string[] }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const input = syntheticInput(options.n);
  const pure: number[] = [];
  let last;
  for (let r = 0; r < options.runs; r++) {
    const t0 = performance.now();
    last = planFleet(input);
    pure.push(performance.now() - t0);
  }
  log(`fleet-plan: seeding SQLite with ${options.n} instances`);
  const dir = await mkdtemp(join(tmpdir(), 'cutover-plan-'));
  const loaded: number[] = [];
  try {
    const store = createSqliteStore(join(dir, 'cutover.db'));
    await seedStore(store, input);
    for (let r = 0; r < options.runs; r++) {
      const t0 = performance.now();
      planFleet(await loadPlanInput(store, policy, NOW));
      loaded.push(performance.now() - t0);
    }
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const result: PlanResult = { n: options.n, pure: summarise(pure), loadAndPlan: summarise(loaded), counts: last!.counts as Record<string, number>, upgrades: last!.upgrades.length };
  const lines = [
    `fleet-plan: ${options.n} instances, ${ZONES.length} zones, ${options.runs} runs`,
    header(),
    row('planFleet (pure)', result.pure, 1),
    row('load from SQLite + planFleet (what a tick does)', result.loadAndPlan, 1),
    `  decisions: ${Object.entries(result.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  plan ≤ ${PLAN_TARGET_MS} ms: pure ${verdict(result.pure, PLAN_TARGET_MS)}; with loading ${verdict(result.loadAndPlan, PLAN_TARGET_MS)}`,
  ];
  return { result, lines };
}

if (import.meta.main) {
  const { lines } = await runFleetPlan({ n: intFlag('instances', 100_000), runs: intFlag('runs', 5) });
  console.log(lines.join('\n'));
}
