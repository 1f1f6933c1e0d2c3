import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bulkyExampleApp, manifest, startNetnsCluster, startTestCluster, testWaitingFor, unhealthyWhile, waitFor } from '../../src/testing/index.ts';
import type { MachineProbes, NetnsCluster, Prober, TestCluster } from '../../src/testing/index.ts';

/**
 * Issue 19 ("Several server replicas on PostgreSQL") with real parts: two server replicas on one
 * throwaway PostgreSQL database, in the server's network namespace, and three agents in namespaces
 * of their own, split between the replicas (web-1 dials replica 0, web-2 and web-3 replica 1; every
 * join token names both). One instance on the three machines, a prober per router (~200 requests/s
 * in all). Each fault SIGKILLs the replica driving a deployment in one of its steps — start, health,
 * the hold of a gradual cutover, after the flip (its verify test running) — and the other replica
 * resumes it from its last persisted step and finishes it: zero failed requests through any router,
 * every machine on the new release, the resume audited. The killed replica's agents fail over to the
 * survivor meanwhile; the killed replica is started again before the next fault, which the other
 * replica drives, so both kill and resume in turn, each reaching machines connected to the other.
 *
 * To hit a step on time, releases wait for files this test makes: a health check that fails while a
 * file exists (the example app's `UNHEALTHY_FILE`), a verify test that waits for a file, and an
 * artifact of a few hundred files (a start step long enough to be seen running).
 */
const isRoot = process.getuid?.() === 0;
const started = Date.now();
const HOST = 'shop.test';
const PROBE_MS = 15;
/** The bake off (a latency breach on a loaded 2-core VM would roll back between faults); a short lease as the fallback to the liveness signal. */
const SETTINGS = { CUTOVER_FLIP_TIMEOUT: '1s', CUTOVER_LOCK_TTL: '5s', CUTOVER_BAKE_CHECK_INTERVAL: '1s', CUTOVER_BAKE_WINDOW: '0' };
/** The gradual cutover's hold, and when into it its replica is killed. */
const HOLD_MS = 8000;
const KILL_INTO_HOLD_MS = 3000;

let pg: TestCluster | undefined;
let c: NetnsCluster;
let markers: string;
let prober: Prober | undefined;
const marker = (name: string) => join(markers, name);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (!isRoot) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: the network namespace tests must not be skipped there');
    return;
  }
  pg = await startTestCluster();
  const database = pg.socketUrl(await pg.createDatabase());
  c = await startNetnsCluster({
    agents: 3,
    prefix: 'rp',
    replicas: { count: 2, database },
    agentReplica: (i) => (i === 1 ? 0 : 1),
    serverEnv: SETTINGS,
  });
  markers = join(c.dir, 'markers');
  await mkdir(markers);
  await chmod(markers, 0o755);
  await publishReleases();
  await c.cli('instance', 'create', 'shop', '--app', 'hello', '--host', HOST, '--machine-selector', 'role=web');
  assert.equal((await c.cli('deploy', 'shop', '1.0.0', '--wait')).status, 'succeeded');
  prober = await c.probe(c.agents, HOST, { intervalMs: PROBE_MS, durationMs: 120_000 });
});

after(async () => {
  await prober?.stop().catch(() => undefined);
  await c?.stop();
  await pg?.stop();
  console.log(`replicas netns e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

async function publishReleases() {
  const held = (v: string) => unhealthyWhile(marker(`sick-${v}`));
  const verifyWaits = (v: string) => testWaitingFor('verify', marker(`verify-${v}`));
  const bulky = await bulkyExampleApp(c.dir);
  const releases: [string, string, string?][] = [
    ['1.0.0', ''],
    ['1.1.0', held('1.1.0'), bulky],
    ['1.2.0', held('1.2.0')],
    ['2.0.0', ''],
    ['3.0.0', verifyWaits('3.0.0')],
  ];
  for (const v of ['1.1.0', '1.2.0']) await writeFile(marker(`sick-${v}`), '');
  for (const [version, extra, artifact] of releases) await c.cli('release', 'publish', await manifest(c.dir, version, extra, artifact));
}

interface Step {
  name: string;
  status: string;
  startedAt?: string | number;
  finishedAt?: string | number;
}
const deployment = async (id: string) => (await c.api('GET', `/api/deployments/${id}`)).json as { status: string; steps: Step[]; error?: unknown };

/** Starts a deployment through replica `driver` (it drives it) and returns its id. */
async function deployThrough(driver: number, version: string, ...flags: string[]): Promise<string> {
  c.via(driver);
  const d = await c.cli('deploy', 'shop', version, ...flags);
  return d.id as string;
}

/** Waits (through `through`) until `step` of deployment `id` runs. */
async function stepRuns(through: number, id: string, step: (s: Step) => boolean, what: string) {
  c.via(through);
  await waitFor(`${what} running`, async () => {
    const d = await deployment(id);
    assert.equal(d.status, 'running', `the deployment ended before ${what}: ${JSON.stringify(d)}`);
    return d.steps.some((s) => step(s) && s.status === 'running');
  }, 30_000);
}

/** Kills the replica driving `id`, waits until the other resumed it (audited), then starts the killed one again. Returns the time from the kill to the resume (ms). */
async function killAndResume(driver: number, id: string): Promise<{ killedAt: number; resumedAt: number }> {
  const other = 1 - driver;
  await c.killReplica(driver);
  const killedAt = Date.now();
  c.via(other);
  let resumedAt = 0;
  await waitFor(`replica ${other} resuming ${id}`, async () => {
    const audit = (await c.api('GET', `/api/audit?instance=shop&action=deploy.resumed`)).json as { items: { at: string; details?: { deployment?: string }; target?: string }[] };
    const entry = audit.items?.find((e) => JSON.stringify(e).includes(id));
    if (entry) resumedAt = Date.parse(entry.at);
    return entry !== undefined;
  }, 30_000);
  await c.startReplica(driver);
  return { killedAt, resumedAt };
}

async function succeeds(id: string) {
  await waitFor(`deployment ${id} to finish`, async () => (await deployment(id)).status !== 'running', 60_000);
  const d = await deployment(id);
  assert.equal(d.status, 'succeeded', JSON.stringify(d));
  return d;
}

/** Every router answers `version` to probes sent from now on. */
async function allServe(version: string) {
  const since = performance.timeOrigin + performance.now();
  await waitFor(`every machine serving ${version}`, () => c.agents.every((a) => {
    const last = prober!.latest()[a.name];
    return last != null && last.sentAt > since && last.status === 200 && last.version === version;
  }), 20_000);
}

function noFailures(seen: MachineProbes[]) {
  for (const m of seen) {
    const failed = m.samples.filter((s) => s.status !== 200);
    assert.deepEqual(failed.slice(0, 5), [], `zero failed requests through ${m.machine}'s router (${failed.length} of ${m.samples.length} failed)`);
    assert.ok(m.samples.length > 100, `enough probes through ${m.machine} (${m.samples.length})`);
  }
}

const resumes: number[] = [];

test('a replica SIGKILLed in start, in health, in a cutover hold and after the flip: the other resumes each deployment and finishes it, zero failed requests', { skip: !isRoot }, async () => {
  // start: replica 0 drives 1.1.0 (a bulky artifact, held at health); killed while a machine starts it.
  const d1 = await deployThrough(0, '1.1.0');
  await stepRuns(1, d1, (s) => s.name === 'prepare' || s.name === 'start', 'the start');
  const r1 = await killAndResume(0, d1);
  resumes.push(r1.resumedAt - r1.killedAt);
  await rm(marker('sick-1.1.0'));
  await succeeds(d1);
  await allServe('1.1.0');

  // health: replica 1 drives 1.2.0 (held unhealthy); killed during its health wait.
  const d2 = await deployThrough(1, '1.2.0');
  await stepRuns(0, d2, (s) => s.name === 'health', 'the health wait');
  const r2 = await killAndResume(1, d2);
  resumes.push(r2.resumedAt - r2.killedAt);
  await rm(marker('sick-1.2.0'));
  await succeeds(d2);
  await allServe('1.2.0');

  // a gradual cutover's hold: replica 0 drives 2.0.0 at 50 % for 8 s; killed 3 s into the hold, the
  // other keeps the remaining time (it does not hold 8 s again from the resume).
  const d3 = await deployThrough(0, '2.0.0', '--steps', '50', '--pause', `${HOLD_MS / 1000}s`);
  await stepRuns(1, d3, (s) => s.name === 'shift-50', 'the 50 % hold');
  await pause(KILL_INTO_HOLD_MS);
  const r3 = await killAndResume(0, d3);
  resumes.push(r3.resumedAt - r3.killedAt);
  const done3 = await succeeds(d3);
  const hold = done3.steps.find((s) => s.name === 'shift-50')!;
  const holdEnd = new Date(hold.finishedAt!).getTime();
  assert.ok(holdEnd - r3.killedAt < HOLD_MS, `the resumed hold kept its remaining time: it ended ${holdEnd - r3.killedAt} ms after the kill (a full hold again would be ≥ ${HOLD_MS} ms)`);
  await allServe('2.0.0');

  // after the flip: replica 1 drives 3.0.0; killed while its verify test runs on a machine; the other
  // collects the test's result and finalises.
  const d4 = await deployThrough(1, '3.0.0');
  await stepRuns(0, d4, (s) => s.name === 'verify', 'the verify test');
  const r4 = await killAndResume(1, d4);
  resumes.push(r4.resumedAt - r4.killedAt);
  await writeFile(marker('verify-3.0.0'), '');
  await succeeds(d4);
  await allServe('3.0.0');

  const seen = await prober!.stop();
  prober = undefined;
  noFailures(seen);
  console.log(`# replica death → resume (ms): ${resumes.join(', ')}`);
});
