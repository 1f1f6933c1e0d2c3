/**
 * Flip skew across machines (issue 18): a server and 1, 3 and 10 agents in network namespaces
 * (`startNetnsCluster`), one instance placed on all of them, one prober per router sending a request
 * every millisecond from the server's namespace, and deployments alternating two versions of the
 * example app (each a barrier flip to the warm slot). Skew = the first new-version answer on the last
 * machine minus that on the first. See README.md ("flip-skew").
 *
 * Usage (root: namespaces): node flip-skew.ts [--runs 20] [--full 5] [--machines 1,3,10] [--interval 1]
 */
import { readFileSync } from 'node:fs';
import { flipReport, manifest, startNetnsCluster } from '../src/testing/index.ts';
import type { NetnsCluster } from '../src/testing/index.ts';
import { deploymentFromAnswer, intFlag, withDeadline } from './lib/cutover-process.ts';
import type { Deployment, DeploymentAnswer } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

export const SKEW_TARGET_MS = 50;
const HOST = 'web.test';
/** Where the instance runs: every machine of the cluster, by label. */
const PLACEMENT = ['--machine-selector', 'role=web'];

export interface SkewOptions {
  /** Measured deployments per machine count (alternating the two versions). */
  runs: number;
  machines: number[];
  /** The probers' interval, ms. */
  intervalMs: number;
  /** Full deployments first (start, health and flip on every machine), each of a new version. */
  full: number;
}

export interface MachineCountResult {
  machines: number;
  /** Skew per run, from the probers (ms). */
  skew: Summary;
  /** Spread of the agents' own flip times (max − min of their flippedAt) per run, ms; NaN when not recorded per machine. */
  agentSkew: Summary;
  /** Per machine and run: first new answer − last old request sent (the window the flip lies in), ms. */
  resolution: Summary;
  /** Deployment finishedAt − createdAt: the alternating barrier flips to the warm slot. */
  flipDeploy: Summary;
  /** The same for the full deployments first (start, health and flip on every machine). */
  fullDeploy: Summary;
  /** Probes failed during the runs, and ticks skipped because a router had 4 probes unanswered. */
  failed: number;
  skipped: number;
  /** CPU idle over the runs, from /proc/stat (%). */
  cpuIdle: number;
}

export interface SkewResult {
  results: MachineCountResult[];
  lines: string[];
}

/** Idle and total jiffies of all CPUs (/proc/stat's first line; iowait counts as idle). */
function cpuTimes(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * The agents' own flip times of a deployment's flip step, one per machine: `detail.flips` (machine
 * → its `flippedAt`, an ISO time on the wire; `detail.machines` before aefb496's follow-up) when the
 * instance runs on several machines; else the one `flippedAt` of a single machine.
 */
function agentFlips(d: DeploymentAnswer): number[] {
  const flip = d.steps.find((s) => s.name === 'flip');
  const detail = (flip?.detail ?? {}) as Record<string, unknown>;
  const time = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : Number.NaN);
  const perMachine = detail.flips ?? detail.machines;
  const machines = perMachine && typeof perMachine === 'object' ? Object.values(perMachine) : [];
  const times = machines.map(time).filter(Number.isFinite);
  return times.length ? times : [time(detail.flippedAt)].filter(Number.isFinite);
}

async function deploy(c: NetnsCluster, version: string): Promise<{ d: Deployment; raw: DeploymentAnswer }> {
  const raw = (await c.cli('deploy', 'web', version, '--wait')) as DeploymentAnswer;
  if (raw.status !== 'succeeded') throw new Error(`deploying ${version} ended ${raw.status}: ${JSON.stringify(raw.error ?? raw.steps)}`);
  return { d: deploymentFromAnswer(raw), raw };
}

const took = (d: Deployment) => (d.finishedAt ?? Number.NaN) - d.createdAt;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One cluster of `machines` agents: `full` full deployments, then `runs` probed flips. */
async function measure(machines: number, options: SkewOptions): Promise<MachineCountResult> {
  const c = await startNetnsCluster({ agents: machines, prefix: 'fs' });
  try {
    return await withDeadline(`flip-skew with ${machines} machines`, 120_000 + options.runs * 15_000, async () => {
      // 1.0.0, 1.0.1, …: each full deployment starts a release no slot holds; the flips then
      // alternate between the last two, each warm in the other colour.
      const versions = Array.from({ length: Math.max(2, options.full) }, (_, i) => `1.0.${i}`);
      await Promise.all(versions.map(async (v) => c.cli('release', 'publish', await manifest(c.dir, v))));
      await c.cli('instance', 'create', 'web', '--app', 'hello', '--host', HOST, ...PLACEMENT);
      const full: number[] = [];
      for (const v of versions) full.push(took((await deploy(c, v)).d));
      const pair = versions.slice(-2) as [string, string];
      const skews: number[] = [];
      const agentSkews: number[] = [];
      const windows: number[] = [];
      const flips: number[] = [];
      let failed = 0;
      let skipped = 0;
      const cpu0 = cpuTimes();
      for (let run = 0; run < options.runs; run++) {
        const version = pair[run % 2]!;
        const prober = await c.probe(c.agents, HOST, { intervalMs: options.intervalMs, durationMs: 30_000 });
        await pause(300); // every loop has connected and answered before the flip
        const { d, raw } = await deploy(c, version);
        await pause(300);
        const probes = await prober.stop();
        const report = flipReport(probes, version);
        if (report.skewMs === null) throw new Error(`run ${run}: no ${version} answer from ${report.missing.join(', ')}`);
        skews.push(report.skewMs);
        for (const m of report.machines) if (m.lastOldSentAt !== null) windows.push(m.firstNewAt! - m.lastOldSentAt);
        const agentTimes = agentFlips(raw);
        agentSkews.push(agentTimes.length === machines ? Math.max(...agentTimes) - Math.min(...agentTimes) : Number.NaN);
        flips.push(took(d));
        failed += report.machines.reduce((n, m) => n + m.failed.length, 0);
        skipped += probes.reduce((n, p) => n + p.skipped, 0);
      }
      const cpu1 = cpuTimes();
      return {
        machines,
        skew: summarise(skews),
        agentSkew: summarise(agentSkews.filter(Number.isFinite)),
        resolution: summarise(windows),
        flipDeploy: summarise(flips),
        fullDeploy: summarise(full),
        failed,
        skipped,
        cpuIdle: (100 * (cpu1.idle - cpu0.idle)) / Math.max(1, cpu1.total - cpu0.total),
      };
    });
  } finally {
    await c.stop();
  }
}

/** Runs the benchmark for each machine count and returns the figures and a printable report. */
export async function runFlipSkew(options: SkewOptions): Promise<SkewResult> {
  const lines = [`flip-skew: ${options.full} full deployments, then ${options.runs} barrier flips to the warm slot per machine count; probes every ${options.intervalMs} ms per router`];
  if (process.getuid?.() !== 0) return { results: [], lines: [...lines, 'skipped: network namespaces need root'] };
  const results: MachineCountResult[] = [];
  for (const machines of options.machines) {
    const r = await measure(machines, options);
    results.push(r);
    lines.push(
      '',
      `${machines} machine(s): CPU idle ${r.cpuIdle.toFixed(0)} % during the runs; ${r.failed} failed probes, ${r.skipped} skipped ticks`,
      header(),
      row('skew: first new answer, last machine − first', r.skew),
      row("agents' flippedAt, last − first", r.agentSkew),
      row('per machine: first new answer − last old sent', r.resolution),
      row('deploy, flip to warm (finishedAt − createdAt)', r.flipDeploy),
      row('deploy, start + health + flip (full)', r.fullDeploy),
    );
    if (machines === 3) lines.push(`target: skew p99 ≤ ${SKEW_TARGET_MS} ms at 3 machines: ${verdict(r.skew, SKEW_TARGET_MS)}`);
  }
  return { results, lines };
}

if (import.meta.main) {
  const list = process.argv.indexOf('--machines');
  const machines = list >= 0 ? process.argv[list + 1]!.split(',').map(Number) : [1, 3, 10];
  const { lines } = await runFlipSkew({ runs: intFlag('runs', 20), machines, intervalMs: intFlag('interval', 1), full: intFlag('full', 5) });
  console.log(lines.join('\n'));
}
