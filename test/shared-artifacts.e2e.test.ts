import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, cp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { startTestCluster } from '../src/testing/index.ts';
import type { TestCluster } from '../src/testing/index.ts';
import { EXAMPLE, cutover, freePort, load, manifest, startProcess, tempDir, waitFor } from './helpers.ts';

/**
 * Issue 19 with real processes. Shared artifacts: two server replicas on one throwaway PostgreSQL
 * cluster, each with its own data directory, and one agent joined to replica B only. A release
 * published through A (its artifact uploaded there) is deployed through B: B fetches the artifact
 * from the database into its own directory and the agent downloads it from B. A chunk tampered with
 * in the database makes B refuse the artifact (ARTIFACT_DIGEST_MISMATCH): the deployment fails before
 * any slot starts, and nothing changes; publishing the release again repairs it. Fail-over: an agent
 * whose join token names both replicas reconnects to the other when its replica is killed, serving on.
 */
let cluster: TestCluster | undefined;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await cluster?.stop();
});

/**
 * Two server replicas on one database of the throwaway cluster, each with its own data directory
 * (the bake off: on a loaded machine its latency analysis may roll a release back, which is not
 * under test), and CLI runners through each.
 */
async function twoReplicas(name: string) {
  cluster ??= await startTestCluster();
  const database = await cluster.createDatabase();
  const data = await tempDir(name);
  cleanup.push(data.cleanup);
  await chmod(data.dir, 0o711); // the agent's data directory sits inside: slot users pass through
  const [dirA, dirB, dirAgent] = ['replica-a', 'replica-b', 'agent'].map((d) => join(data.dir, d)) as [string, string, string];
  const settings = join(data.dir, 'settings.yml');
  await writeFile(settings, 'bakeWindow: 0\n');
  const replica = async (dir: string) => {
    const r = await startProcess(dir, ['server', '--api-port', String(await freePort()), '--database', database, '--config', settings]);
    cleanup.push(r.stop);
    return r;
  };
  const a = await replica(dirA);
  const token = a.info.adminToken as string;
  assert.ok(token, 'the first replica on the database made the admin token');
  const b = await replica(dirB);
  const on = (r: typeof a) => async (args: string[]) => cutover(dirB, args, { CUTOVER_URL: r.info.api, CUTOVER_TOKEN: token });
  const [viaA, viaB] = [on(a), on(b)];
  const ok = async (run: typeof viaA, args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `cutover ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.json;
  };
  return { database, data, dirA, dirB, dirAgent, a, b, viaA, viaB, ok };
}

test('an artifact uploaded through one replica is deployed through another; a tampered chunk is refused and changes nothing until the release is published again', async () => {
  const started = Date.now();
  const { database, data, dirA, dirB, dirAgent, b, viaA, viaB, ok } = await twoReplicas('shared-artifacts');

  // The agent joins B, and only B: its join token names B's URL alone.
  const join_ = await ok(viaB, ['join-token', 'create', '--expires', '10m']);
  const http = await freePort();
  const agent = await startProcess(dirAgent, ['agent', '--server', b.info.api, '--name', 'web-1', '--http-port', String(http)], { CUTOVER_JOIN_TOKEN: join_.token });
  cleanup.push(agent.stop);

  // Two releases published through A, each with its own artifact of a few 1 MiB chunks (random
  // bytes: gzip cannot shrink them below that).
  const release = async (version: string) => {
    const app = join(data.dir, `app-${version}`);
    await cp(join(EXAMPLE, 'app'), app, { recursive: true });
    await writeFile(join(app, 'assets.bin'), randomBytes(2.5 * 1024 * 1024));
    const file = join(data.dir, `${version}.yml`);
    await writeFile(file, `extends: ${join(EXAMPLE, 'cutover.yml')}\nversion: ${version}\nartifact: ${app}\n`);
    await ok(viaA, ['release', 'publish', file]);
    return file;
  };
  await release('1.0.0');
  const manifest110 = await release('1.1.0');
  const artifactsOf = async (dir: string) => (await readdir(join(dir, 'artifacts')).catch(() => [] as string[])).sort();
  assert.equal((await artifactsOf(dirA)).length, 2);
  assert.deepEqual(await artifactsOf(dirB), [], 'B never saw the uploads');

  await waitFor('the agent to connect to B', async () => (await ok(viaB, ['machine', 'list'])).items.some((m: { name: string; connected: boolean }) => m.name === 'web-1' && m.connected), 20_000);
  await ok(viaB, ['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test', '--machine', 'web-1']);
  await ok(viaB, ['deploy', 'shop', '1.0.0', '--wait']);
  const served = async () => {
    const res = await request(`http://127.0.0.1:${http}/api/version`, { headers: { host: 'shop.test' } });
    await res.body.dump();
    return res.headers['x-app-version'];
  };
  assert.equal(await served(), '1.0.0');
  const [first] = await artifactsOf(dirB);
  assert.match(first ?? '', /^sha256-[0-9a-f]{64}\.tgz$/, 'B fetched the artifact into its own directory to serve it');

  // Tamper with one byte of 1.1.0's middle chunk in the database.
  const sql = new pg.Client({ connectionString: database });
  await sql.connect();
  cleanup.push(() => sql.end());
  const chunks = await sql.query<{ digest: string; n: number }>('SELECT digest, count(*)::int AS n FROM artifact_chunks GROUP BY digest');
  assert.deepEqual(chunks.rows.map((r) => r.n), [3, 3], 'each artifact is three rows of at most 1 MiB');
  const digest = (await sql.query<{ d: string }>(`SELECT spec->'artifact'->>'digest' AS d FROM releases WHERE version = '1.1.0'`)).rows[0]!.d;
  const tampered = await sql.query('UPDATE artifact_chunks SET data = set_byte(data, 100, (get_byte(data, 100) + 1) % 256) WHERE digest = $1 AND seq = 1', [digest]);
  assert.equal(tampered.rowCount, 1);

  const refused = await viaB(['deploy', 'shop', '1.1.0', '--wait']);
  assert.notEqual(refused.code, 0, refused.stdout + refused.stderr);
  const deployments = (await ok(viaB, ['history', 'shop'])).items as { toVersion: string; status: string; error?: { code: string; message: string } }[];
  const failed = deployments.find((d) => d.toVersion === '1.1.0');
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.error?.code, 'ARTIFACT_DIGEST_MISMATCH', JSON.stringify(failed?.error));
  assert.match(failed!.error!.message, /changed or damaged in the database/);

  const status = await ok(viaB, ['status', 'shop']);
  assert.equal(status.currentVersion, '1.0.0');
  assert.equal(await served(), '1.0.0');
  assert.deepEqual(await artifactsOf(dirB), [first], 'no temporary or partial file, nothing of 1.1.0');

  // Publishing the same manifest again (through A, whose own copy is sound) replaces the damaged
  // copy; then B deploys it.
  const again = await ok(viaA, ['release', 'publish', manifest110]);
  assert.equal(again.created, false);
  await ok(viaB, ['deploy', 'shop', '1.1.0', '--wait']);
  assert.equal(await served(), '1.1.0');
  assert.equal((await artifactsOf(dirB)).length, 2);
  console.log(`# shared artifacts e2e: ${Date.now() - started} ms`);
});

test('an agent whose replica dies reconnects to the other within seconds; what it serves is untouched; the other replica deploys to it', async () => {
  const started = Date.now();
  const { data, dirAgent, a, b, viaA, viaB, ok } = await twoReplicas('replica-failover');
  // The join token names both replicas, A first: the agent dials A, and B when A is gone.
  const join_ = await ok(viaA, ['join-token', 'create', '--expires', '10m', '--url', a.info.api, '--url', b.info.api]);
  const http = await freePort();
  const agent = await startProcess(dirAgent, ['agent', '--server', a.info.api, '--name', 'web-2', '--http-port', String(http)], { CUTOVER_JOIN_TOKEN: join_.token });
  cleanup.push(agent.stop);
  for (const version of ['1.0.0', '1.1.0']) await ok(viaA, ['release', 'publish', await manifest(data.dir, version)]);
  const connectedVia = async (run: typeof viaA) => (await run(['machine', 'list'])).json?.items?.some((m: { name: string; connected: boolean }) => m.name === 'web-2' && m.connected) === true;
  await waitFor('the agent to connect to A', () => connectedVia(viaA), 20_000);
  await ok(viaA, ['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test', '--machine', 'web-2']);
  await ok(viaA, ['deploy', 'shop', '1.0.0', '--wait']);

  const traffic = load(http, 'shop.test', 4);
  let tookMs = 0;
  try {
    await waitFor('load through the agent', () => traffic.result.ok > 20, 10_000);
    a.child.kill('SIGKILL');
    const killed = Date.now();
    // Connected, and seen since A died: B records a heartbeat as the session opens (the list of
    // which replica holds what lags a replica's death by up to two seconds, so `connected` alone
    // could still be A's).
    const seenSince = async () => {
      const item = (await viaB(['machine', 'list'])).json?.items?.find((m: { name: string }) => m.name === 'web-2') as { connected: boolean; lastHeartbeat: string | null } | undefined;
      return item?.connected === true && item.lastHeartbeat !== null && Date.parse(item.lastHeartbeat) >= killed;
    };
    await waitFor('the agent to reconnect to B', seenSince, 20_000);
    tookMs = Date.now() - killed;
    assert.ok(tookMs < 10_000, `reconnected to B ${tookMs} ms after A died`);
    const d = await ok(viaB, ['deploy', 'shop', '1.1.0', '--wait']);
    assert.equal(d.status, 'succeeded');
    await waitFor('1.1.0 served', () => traffic.result.samples.at(-1)?.version === '1.1.0', 10_000);
  } finally {
    const result = await traffic.stop();
    assert.deepEqual(result.failed, [], 'zero failed requests through the failover and the deployment');
  }
  console.log(`# replica failover e2e: ${Date.now() - started} ms (the agent was connected to B ${tookMs} ms after A was killed)`);
});
