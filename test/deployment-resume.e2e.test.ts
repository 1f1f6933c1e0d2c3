import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestCluster } from '../src/testing/index.ts';
import type { TestCluster } from '../src/testing/index.ts';
import { cutover, freePort, load, manifest, startProcess, tempDir, waitFor } from './helpers.ts';

/**
 * Issue 19, "a deployment survives its replica", with real processes: two server replicas on one
 * throwaway PostgreSQL database and one agent whose join token names both (it dials A, and B once A
 * is gone). A release that takes seconds to become healthy is deployed through A; A is SIGKILLed
 * while the `health` step runs. B takes the deployment over (its lease expired, or at once when the
 * server knows A is dead), resumes it at `health` with what is left of the deploy timeout, and the
 * deployment succeeds: zero failed requests through the router, and the audit names the resume.
 */
let cluster: TestCluster | undefined;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await cluster?.stop();
});

test('a deployment whose replica is killed during its health step is resumed by the other replica and succeeds, with zero failed requests', async () => {
  const started = Date.now();
  cluster = await startTestCluster();
  const database = await cluster.createDatabase();
  const data = await tempDir('deployment-resume');
  cleanup.push(data.cleanup);
  await chmod(data.dir, 0o711); // the agent's data directory sits inside: slot users pass through
  const [dirA, dirB, dirAgent] = ['replica-a', 'replica-b', 'agent'].map((d) => join(data.dir, d)) as [string, string, string];
  // A short lease (renewed every second) so B takes over within seconds even where the server cannot
  // tell a dead replica; no bake (on a loaded machine its latency analysis may roll back: not under test).
  const settings = join(data.dir, 'settings.yml');
  await writeFile(settings, 'bakeWindow: 0\nlockTtl: 3s\n');
  const replica = async (dir: string) => {
    const r = await startProcess(dir, ['server', '--api-port', String(await freePort()), '--database', database, '--config', settings]);
    cleanup.push(r.stop);
    return r;
  };
  const a = await replica(dirA);
  const token = a.info.adminToken as string;
  assert.ok(token, 'the first replica on the database made the admin token');
  const b = await replica(dirB);
  const via = (r: typeof a) => async (args: string[]) => {
    const res = await cutover(dirB, args, { CUTOVER_URL: r.info.api, CUTOVER_TOKEN: token });
    assert.equal(res.code, 0, `cutover ${args.join(' ')} → ${res.code}\n${res.stdout}\n${res.stderr}`);
    return res.json;
  };
  const [viaA, viaB] = [via(a), via(b)];

  const joined = await viaA(['join-token', 'create', '--expires', '10m', '--url', a.info.api, '--url', b.info.api]);
  const http = await freePort();
  const agent = await startProcess(dirAgent, ['agent', '--server', a.info.api, '--name', 'web-1', '--http-port', String(http)], { CUTOVER_JOIN_TOKEN: joined.token });
  cleanup.push(agent.stop);
  await viaA(['release', 'publish', await manifest(data.dir, '1.0.0')]);
  // 1.1.0 answers its health check only after 4 s: long enough to kill A during the wait.
  await viaA(['release', 'publish', await manifest(data.dir, '1.1.0', 'deployTimeout: 60s\nenv:\n  STARTUP_DELAY_MS: "4000"\n')]);
  await waitFor('the agent to connect to A', async () => (await viaA(['machine', 'list'])).items.some((m: { name: string; connected: boolean }) => m.name === 'web-1' && m.connected), 20_000);
  await viaA(['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test', '--machine', 'web-1']);
  await viaA(['deploy', 'shop', '1.0.0', '--wait']);

  const traffic = load(http, 'shop.test', 4);
  let tookMs = 0;
  let resumedMs = 0;
  try {
    await waitFor('load through the agent', () => traffic.result.ok > 20, 10_000);
    const { id } = await viaA(['deploy', 'shop', '1.1.0']);
    const deployment = async () => (await viaB(['history', 'shop'])).items.find((d: { id: string }) => d.id === id) as { status: string; error?: unknown; steps: { name: string; status: string; startedAt?: string; detail?: Record<string, unknown> }[] };
    await waitFor('the health step to run', async () => (await deployment()).steps.some((s) => s.name === 'health' && s.status === 'running'), 20_000);
    a.child.kill('SIGKILL');
    const killed = Date.now();
    const done = await waitFor('B to finish the deployment', async () => {
      const d = await deployment();
      return d.status !== 'running' && d;
    }, 30_000);
    tookMs = Date.now() - killed;
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const health = done.steps.find((s) => s.name === 'health')!;
    assert.ok(health.detail?.resumedBy, 'the health step names the replica that resumed it');
    const [resumed] = (await viaB(['audit', '--instance', 'shop', '--action', 'deploy.resumed'])).items as { at: string; details: Record<string, unknown> }[];
    assert.ok(resumed, 'the audit names the resume');
    resumedMs = Date.parse(resumed.at) - killed;
    assert.equal(resumed.details.deployment, id);
    assert.equal(resumed.details.step, 'health');
    assert.equal(resumed.details.by, health.detail?.resumedBy);
    assert.equal((await viaB(['status', 'shop'])).currentVersion, '1.1.0');
    await waitFor('1.1.0 served', () => traffic.result.samples.at(-1)?.version === '1.1.0', 10_000);
  } finally {
    const result = await traffic.stop();
    assert.deepEqual(result.failed, [], 'zero failed requests through the replica’s death and the resume');
  }
  console.log(`# deployment resume e2e: ${Date.now() - started} ms (B resumed it ${resumedMs} ms after its replica was killed; it ended after ${tookMs} ms)`);
});
