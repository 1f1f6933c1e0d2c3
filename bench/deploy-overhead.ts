/**
 * Deploy overhead beyond the app's readiness: for fresh deployments (a release that is not warm),
 * how long Cutover takes from "the new slot answered its health check" to "traffic is on it".
 * See README.md ("deploy-overhead").
 */
import { performance } from 'node:perf_hooks';
import { deployCall, intFlag, step, withCutover } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

export const DEPLOY_OVERHEAD_TARGET_MS = 50;
const HOST = 'web.test';

export interface DeployOptions {
  /** Measured deployments, each of a version never deployed before. */
  n: number;
  /** Deployments run first and not counted. */
  warmup: number;
}

export interface DeployResult {
  n: number;
  /** Flip step `detail.overheadMs`: agent's flippedAt − the moment the slot was seen healthy. */
  overhead: Summary;
  /** Deployment `finishedAt − createdAt`. */
  total: Summary;
  /** Client: POST …/deploy?wait sent → finished record received. */
  client: Summary;
  phases: Record<string, Summary>;
  lines: string[];
}

/** Versions 2.0.0, 2.0.1, …: each deployment starts a release that no slot holds. */
const versionAt = (i: number) => `2.0.${i}`;

/** Runs the benchmark against a fresh Cutover and returns the figures and a printable report. */
export async function runDeployOverhead(options: DeployOptions): Promise<DeployResult> {
  const count = options.warmup + options.n;
  return withCutover({ name: 'deploy-overhead', deadlineMs: 120_000 + count * 10_000 }, async (c) => {
    await c.publish(['1.0.0', ...Array.from({ length: count }, (_, i) => versionAt(i))]);
    const created = await c.cli(['instance', 'create', 'web', '--app', 'hello', '--host', HOST]);
    if (created.code !== 0) throw new Error(`instance create failed: ${created.stdout}${created.stderr}`);

    const samples: { overhead: number; total: number; client: number; phases: Record<string, number> }[] = [];
    // 1.0.0 first, so every measured deployment is a real blue-green upgrade with a live slot.
    for (let i = -1; i < count; i++) {
      const version = i < 0 ? '1.0.0' : versionAt(i);
      const t0 = performance.now();
      const d = await deployCall(c, '/api/instances/web/deploy?wait=60000', { version });
      const client = performance.now() - t0;
      if (d.status !== 'succeeded')
        throw new Error(`deploying ${version} ended ${d.status}: ${JSON.stringify(d.error)}`);
      if (d.strategy !== 'start-and-flip')
        throw new Error(`deploying ${version} was ${d.strategy}, not a fresh start`);
      const start = step(d, 'start');
      c.track(start.detail?.pid);
      if (i < options.warmup) continue;
      const prepare = step(d, 'prepare');
      const health = step(d, 'health');
      const flip = step(d, 'flip');
      const finalise = step(d, 'finalise');
      const healthySince = health.detail?.healthySince ?? Number.NaN;
      const flippedAt = flip.detail?.flippedAt ?? Number.NaN;
      const overhead = flip.detail?.overheadMs ?? Number.NaN;
      const total = (d.finishedAt ?? Number.NaN) - d.createdAt;
      const appReady = healthySince - (start.startedAt ?? 0);
      samples.push({
        overhead,
        total,
        client,
        phases: {
          'createdAt → prepare start (lock, save)': (prepare.startedAt ?? 0) - d.createdAt,
          'prepare (route, artifact, stop old warm slot)':
            (prepare.finishedAt ?? 0) - (prepare.startedAt ?? 0),
          'start (unpack, spawn)': (start.finishedAt ?? 0) - (start.startedAt ?? 0),
          'app: start step begins → healthy (excluded)': appReady,
          'healthy → health step saved (agent reply, save)': (health.finishedAt ?? 0) - healthySince,
          'health saved → flip start (lock, save)': (flip.startedAt ?? 0) - (health.finishedAt ?? 0),
          'flip start → flippedAt (agent call)': flippedAt - (flip.startedAt ?? 0),
          'flippedAt → finished (save, finalise, audit)': (d.finishedAt ?? 0) - flippedAt,
          'total minus app readiness': total - appReady,
          'finalise step': (finalise.finishedAt ?? 0) - (finalise.startedAt ?? 0),
        },
      });
    }

    const pick = (f: (s: (typeof samples)[number]) => number) => summarise(samples.map(f));
    const phaseNames = Object.keys(samples[0]?.phases ?? {});
    const result: DeployResult = {
      n: samples.length,
      overhead: pick((s) => s.overhead),
      total: pick((s) => s.total),
      client: pick((s) => s.client),
      phases: Object.fromEntries(phaseNames.map((p) => [p, pick((s) => s.phases[p] ?? Number.NaN)])),
      lines: [],
    };
    result.lines = [
      `deploy-overhead: ${result.n} fresh deployments (2.0.x, each new; health interval 100 ms), ${options.warmup} warm-up deployments not counted`,
      header(),
      row('overhead: flippedAt − healthySince (detail.overheadMs)', result.overhead, 0),
      row('total: finishedAt − createdAt', result.total, 0),
      row('client: POST ?wait sent → record received', result.client),
      'where the time goes (server timestamps, 1 ms grain):',
      ...phaseNames.map((p) => row(`  ${p}`, result.phases[p]!, 0)),
      `target ≤ ${DEPLOY_OVERHEAD_TARGET_MS} ms: overhead ${verdict(result.overhead, DEPLOY_OVERHEAD_TARGET_MS)}`,
    ];
    return result;
  });
}

if (import.meta.main) {
  const result = await runDeployOverhead({ n: intFlag('n', 20), warmup: intFlag('warmup', 2) });
  console.log(result.lines.join('\n'));
}
