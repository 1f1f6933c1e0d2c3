/**
 * Runs every benchmark in turn (each starts and stops its own Cutover) and writes a short results
 * block to bench/results/latest.md (and .json) for docs/benchmarks.md.
 * Usage: npm run bench (from the root) [-- --rollback-n 50 --deploy-n 20]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { intFlag } from './lib/cutover-process.ts';
import { runDeployOverhead, DEPLOY_OVERHEAD_TARGET_MS } from './deploy-overhead.ts';
import { runRollbackLatency, ROLLBACK_TARGET_MS } from './rollback-latency.ts';
import { runTargetResolution, RESOLUTION_TARGET_MS } from './target-resolution.ts';
import { runFleetPlan, PLAN_TARGET_MS } from './fleet-plan.ts';
import { runRouterBench } from './router-proxy.ts';
import { runRouterPinned } from './router-pinned.ts';
import { runRouterTls } from './router-tls.ts';
import { runFlipSkew, SKEW_TARGET_MS } from './flip-skew.ts';
import { runReplicaResume, RESUME_TARGET_MS } from './replica-resume.ts';
import { verdict } from './lib/stats.ts';

const startedAt = new Date();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();

const rollback = await runRollbackLatency({ n: intFlag('rollback-n', 50), warmup: 4, poll: true });
console.log(rollback.lines.join('\n') + '\n');
const deploy = await runDeployOverhead({ n: intFlag('deploy-n', 20), warmup: 2 });
console.log(deploy.lines.join('\n') + '\n');

const fleet = await runTargetResolution({ n: intFlag('instances', 100_000), runs: intFlag('resolution-runs', 5), page: 500 });
console.log(fleet.lines.join('\n') + '\n');
const router = await runRouterBench();
console.log(router.lines.join('\n') + '\n');
const pinned = await runRouterPinned();
console.log(pinned.lines.join('\n') + '\n');
const tls = await runRouterTls();
console.log(tls.lines.join('\n') + '\n');
const skew = await runFlipSkew({ runs: intFlag('skew-runs', 20), machines: [1, 3, 10], intervalMs: 1, full: 5 });
console.log(skew.lines.join('\n') + '\n');
const resume = await runReplicaResume({ runs: intFlag('resume-runs', 10) });
console.log(resume.lines.join('\n') + '\n');
const planning = await runFleetPlan({ n: intFlag('instances', 100_000), runs: intFlag('plan-runs', 5) });
console.log(planning.lines.join('\n') + '\n');

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const block = [
  `Cutover benchmarks, ${startedAt.toISOString()}`,
  `machine: ${machine}; load average before ${loadBefore}, after ${load()}`,
  '',
  '| benchmark | figure | p50 | p90 | p99 | max | target |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  `| rollback-latency (n=${rollback.n}) | client: POST → router answers with the other version | ${ms(rollback.client.p50)} | ${ms(rollback.client.p90)} | ${ms(rollback.client.p99)} | ${ms(rollback.client.max)} | ≤ ${ROLLBACK_TARGET_MS} ms: ${verdict(rollback.client, ROLLBACK_TARGET_MS)} |`,
  `| | server: flippedAt − createdAt | ${ms(rollback.server.p50)} | ${ms(rollback.server.p90)} | ${ms(rollback.server.p99)} | ${ms(rollback.server.max)} | ${verdict(rollback.server, ROLLBACK_TARGET_MS)} |`,
  `| deploy-overhead (n=${deploy.n}) | flippedAt − healthySince | ${ms(deploy.overhead.p50)} | ${ms(deploy.overhead.p90)} | ${ms(deploy.overhead.p99)} | ${ms(deploy.overhead.max)} | ≤ ${DEPLOY_OVERHEAD_TARGET_MS} ms: ${verdict(deploy.overhead, DEPLOY_OVERHEAD_TARGET_MS)} |`,
  `| | total deployment (finishedAt − createdAt) | ${ms(deploy.total.p50)} | ${ms(deploy.total.p90)} | ${ms(deploy.total.p99)} | ${ms(deploy.total.max)} | (informative) |`,
  ...fleet.results.flatMap((r) => [
    `| target-resolution, ${r.store} (${r.n} instances, n=${r.resolve.n}) | list + resolve every target | ${ms(r.resolve.p50)} | ${ms(r.resolve.p90)} | ${ms(r.resolve.p99)} | ${ms(r.resolve.max)} | ≤ ${RESOLUTION_TARGET_MS} ms: ${verdict(r.resolve, RESOLUTION_TARGET_MS)} |`,
    `| | list all, ${r.pages} pages of 500 | ${ms(r.pageTotal.p50)} | ${ms(r.pageTotal.p90)} | ${ms(r.pageTotal.p99)} | ${ms(r.pageTotal.max)} | (informative) |`,
    `| | one page of 500 | ${ms(r.page.p50)} | ${ms(r.page.p90)} | ${ms(r.page.p99)} | ${ms(r.page.max)} | (informative) |`,
  ]),
  ...router.results.targets.map(
    (t) => `| router-proxy | ${t.name} | ${t.value} ${t.unit} | | | | ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED'} |`,
  ),
  `| fleet-plan (${planning.result.n} instances, n=${planning.result.pure.n}) | planFleet (pure) | ${ms(planning.result.pure.p50)} | ${ms(planning.result.pure.p90)} | ${ms(planning.result.pure.p99)} | ${ms(planning.result.pure.max)} | ≤ ${PLAN_TARGET_MS} ms: ${verdict(planning.result.pure, PLAN_TARGET_MS)} |`,
  `| | load from SQLite + planFleet | ${ms(planning.result.loadAndPlan.p50)} | ${ms(planning.result.loadAndPlan.p90)} | ${ms(planning.result.loadAndPlan.p99)} | ${ms(planning.result.loadAndPlan.max)} | ${verdict(planning.result.loadAndPlan, PLAN_TARGET_MS)} |`,
  ...skew.results.flatMap((r) => [
    `| flip-skew, ${r.machines} machines (n=${r.skew.n}, CPU idle ${r.cpuIdle.toFixed(0)} %) | first new answer, last machine − first | ${ms(r.skew.p50)} | ${ms(r.skew.p90)} | ${ms(r.skew.p99)} | ${ms(r.skew.max)} | ${r.machines === 3 ? `≤ ${SKEW_TARGET_MS} ms: ${verdict(r.skew, SKEW_TARGET_MS)}` : '(informative)'} |`,
    `| | agents' flippedAt, last − first | ${ms(r.agentSkew.p50)} | ${ms(r.agentSkew.p90)} | ${ms(r.agentSkew.p99)} | ${ms(r.agentSkew.max)} | (informative) |`,
    `| | deploy, flip to warm (finishedAt − createdAt) | ${ms(r.flipDeploy.p50)} | ${ms(r.flipDeploy.p90)} | ${ms(r.flipDeploy.p99)} | ${ms(r.flipDeploy.max)} | (informative) |`,
    `| | deploy, full: start + health + flip (n=${r.fullDeploy.n}) | ${ms(r.fullDeploy.p50)} | ${ms(r.fullDeploy.p90)} | ${ms(r.fullDeploy.p99)} | ${ms(r.fullDeploy.max)} | (informative) |`,
  ]),
  `| replica-resume (n=${resume.resume.n}) | SIGKILL of the driving replica → the other's deploy.resumed | ${ms(resume.resume.p50)} | ${ms(resume.resume.p90)} | ${ms(resume.resume.p99)} | ${ms(resume.resume.max)} | ≤ ${RESUME_TARGET_MS} ms: ${verdict(resume.resume, RESUME_TARGET_MS)} |`,
  '',
  'All figures in ms. Details above in the run output; see bench/README.md for definitions.',
].join('\n');

const dir = new URL('./results/', import.meta.url);
await mkdir(dir, { recursive: true });
await writeFile(
  new URL('latest.md', dir),
  block + '\n\n```\n' + [...rollback.lines, '', ...deploy.lines, '', ...fleet.lines, '', ...router.lines, '', ...pinned.lines, '', ...tls.lines, '', ...skew.lines, '', ...resume.lines, '', ...planning.lines].join('\n') + '\n```\n',
);
await writeFile(
  new URL('latest.json', dir),
  JSON.stringify({ startedAt, machine, rollback: { ...rollback, flips: undefined }, deploy, targetResolution: fleet.results, fleetPlan: planning.result, router: router.results, routerPinned: pinned.summary, routerTls: tls.rows, flipSkew: skew.results, replicaResume: { resume: resume.resume, finish: resume.finish } }, null, 2) + '\n',
);
console.log(block);
console.log('\nwritten to bench/results/latest.md and latest.json');
