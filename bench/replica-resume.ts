/**
 * Replica death → resume (issue 19): two server replicas on one throwaway PostgreSQL database and two
 * agents in network namespaces (`startNetnsCluster`), web-1 dialling replica 0 and web-2 replica 1,
 * one instance on both. Each run deploys a new release through one replica — held at its health
 * check by a file — SIGKILLs that replica once the health wait runs, and times:
 * - resume: the SIGKILL → the other replica's `deploy.resumed` audit entry (its `at`, same clock);
 * - finish: the hold released → the deployment succeeded (the resumed health wait, flip, finalise).
 * The killed replica is started again before the next run, which the other one drives. See
 * README.md ("replica-resume").
 *
 * Usage (root: namespaces): node replica-resume.ts [--runs 10]
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { manifest, startNetnsCluster, startTestCluster, unhealthyWhile, waitFor } from '../src/testing/index.ts';
import type { NetnsCluster } from '../src/testing/index.ts';
import { intFlag, withDeadline } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

/** A deployment is taken over within this long of its replica's death (the agents reconnect meanwhile). */
export const RESUME_TARGET_MS = 3000;
const HOST = 'web.test';
const SETTINGS = { CUTOVER_LOCK_TTL: '30s', CUTOVER_BAKE_CHECK_INTERVAL: '1s', CUTOVER_BAKE_WINDOW: '0' };

export interface ResumeResult {
  runs: number;
  resume: Summary;
  finish: Summary;
  lines: string[];
}

interface Answer {
  id: string;
  status: string;
  steps: { name: string; status: string }[];
}

export async function runReplicaResume(options: { runs: number }): Promise<ResumeResult> {
  const pg = await startTestCluster();
  let c: NetnsCluster | undefined;
  try {
    const database = pg.socketUrl(await pg.createDatabase());
    c = await startNetnsCluster({ agents: 2, prefix: 'rr', replicas: { count: 2, database }, agentReplica: (i) => i - 1, serverEnv: SETTINGS });
    const cluster = c;
    return await withDeadline('replica-resume', 120_000 + options.runs * 40_000, () => measure(cluster, options.runs));
  } finally {
    await c?.stop();
    await pg.stop();
  }
}

async function measure(c: NetnsCluster, runs: number): Promise<ResumeResult> {
  const markers = join(c.dir, 'markers');
  await mkdir(markers);
  await chmod(markers, 0o755);
  const sick = (v: string) => join(markers, `sick-${v}`);
  const versions = Array.from({ length: runs + 1 }, (_, i) => `1.0.${i}`);
  for (const v of versions) {
    await c.cli('release', 'publish', await manifest(c.dir, v, unhealthyWhile(sick(v))));
  }
  await c.cli('instance', 'create', 'web', '--app', 'hello', '--host', HOST, '--machine-selector', 'role=web');
  await c.cli('deploy', 'web', versions[0]!, '--wait');
  const resume: number[] = [];
  const finish: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const v = versions[run]!;
    const driver = run % 2;
    const other = 1 - driver;
    await writeFile(sick(v), '');
    c.via(driver);
    const { id } = (await c.cli('deploy', 'web', v)) as Answer;
    c.via(other);
    const deployment = async () => (await c.api('GET', `/api/deployments/${id}`)).json as Answer;
    await waitFor(`the health wait of ${v}`, async () => (await deployment()).steps.some((s) => s.name === 'health' && s.status === 'running'), 30_000);
    await c.killReplica(driver);
    const killedAt = Date.now();
    let resumedAt = 0;
    await waitFor(`replica ${other} resuming ${id}`, async () => {
      const audit = (await c.api('GET', '/api/audit?instance=web&action=deploy.resumed')).json as { items: { at: string }[] };
      const entry = audit.items.find((e) => JSON.stringify(e).includes(id));
      if (entry) resumedAt = Date.parse(entry.at);
      return resumedAt > 0;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    resume.push(resumedAt - killedAt);
    const released = Date.now();
    await rm(sick(v));
    await waitFor(`${id} to finish`, async () => (await deployment()).status !== 'running', { timeoutMs: 60_000, intervalMs: 20 });
    const done = await deployment();
    if (done.status !== 'succeeded') throw new Error(`the resumed deployment of ${v} ended ${done.status}: ${JSON.stringify(done)}`);
    finish.push(Date.now() - released);
    await c.startReplica(driver);
  }
  const result = { resume: summarise(resume), finish: summarise(finish) };
  const lines = [
    `replica-resume: 2 replicas on PostgreSQL, 2 machines (one per replica), ${runs} deployments each killed with its replica in the health wait`,
    header(),
    row('SIGKILL → other replica resumed (audit)', result.resume),
    row('hold released → succeeded (informative)', result.finish),
    `target: resume ≤ ${RESUME_TARGET_MS} ms: ${verdict(result.resume, RESUME_TARGET_MS)}`,
  ];
  return { runs, ...result, lines };
}

if (import.meta.main) {
  const r = await runReplicaResume({ runs: intFlag('runs', 10) });
  console.log(r.lines.join('\n'));
}
