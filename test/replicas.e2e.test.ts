import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cutover, freePort, load, manifest, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * The review's M1 reproduction and the resume of a dead replica's deployment (ADR 0026) with real
 * processes: server replicas on one SQLite data directory sharing one agent, a release that takes
 * seconds to start (STARTUP_DELAY_MS), load on the router throughout (zero failed requests), and
 * short leases so expiry fits in the test. H3 (a stale deployment never finished on a colour match)
 * is the pure `resumePlan`'s, unit-tested in `src/deploy/`.
 */
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

test('replicas: a starting replica never fails a live one’s deployment (M1); a dead one’s is resumed, by its restart at once or by a live replica once its lease expired', async () => {
  const started = Date.now();
  const data = await tempDir('replicas');
  cleanup.push(data.cleanup);
  const p = await ports();
  const agent = await startProcess(data.dir, ['agent', '--http-port', String(p.http)]);
  cleanup.push(agent.stop);
  // Short leases (renewed every third of their TTL by the heartbeat), and one long one for the restart case.
  // No bake: on a loaded machine the latency analysis may roll a release back, which is not under test.
  const shortTtl = join(data.dir, 'short.yml');
  const longTtl = join(data.dir, 'long.yml');
  await writeFile(shortTtl, 'lockTtl: 2s\nbakeWindow: 0\n');
  await writeFile(longTtl, 'lockTtl: 2m\nbakeWindow: 0\n');
  const replica = async (apiPort: number, config: string) => {
    const r = await startProcess(data.dir, ['server', '--api-port', String(apiPort), '--config', config]);
    cleanup.push(r.stop);
    return r;
  };
  const a = await replica(p.api, shortTtl);
  const token = a.info.adminToken as string;
  assert.ok(token);
  const at = (port: number) => ({ CUTOVER_URL: `http://127.0.0.1:${port}`, CUTOVER_TOKEN: token });
  const cli = async (port: number, args: string[]) => cutover(data.dir, args, at(port));
  const ok = async (port: number, args: string[]) => {
    const r = await cli(port, args);
    assert.equal(r.code, 0, `cutover ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.json;
  };
  const deployment = async (id: string) => {
    const res = await fetch(`http://127.0.0.1:${p.api}/api/deployments/${id}`, { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()) as { status: string; error?: { message: string }; steps: { name: string; status: string }[] };
  };
  const atHealth = (id: string) => waitFor(`${id} at its health step`, async () => (await deployment(id)).steps.some((s) => s.name === 'health' && s.status === 'running'), 20_000);
  const slow = 'deployTimeout: 60s\nenv:\n  STARTUP_DELAY_MS: "2500"\n';
  for (const [v, extra] of [['1.0.0', ''], ['1.1.0', ''], ['1.2.0', slow], ['1.3.0', slow], ['1.4.0', slow]] as const) {
    await ok(p.api, ['release', 'publish', await manifest(data.dir, v, extra)]);
  }
  await ok(p.api, ['instance', 'create', 'slow', '--app', 'hello', '--host', 'slow.test']);
  await ok(p.api, ['deploy', 'slow', '1.0.0', '--wait']);
  const traffic = load(p.http, 'slow.test', 8);
  cleanup.push(async () => void (await traffic.stop()));

  // M1: replica B starts while A's deployment of 1.2.0 waits for health (longer than the 2 s lease).
  const m1 = (await ok(p.api, ['deploy', 'slow', '1.2.0'])).id as string;
  await atHealth(m1);
  const bPort = await freePort();
  await replica(bPort, shortTtl);
  const m1Done = await waitFor('the deployment of 1.2.0 to finish', async () => {
    const d = await deployment(m1);
    return d.status !== 'running' && d;
  }, 30_000);
  assert.equal(m1Done.status, 'succeeded', JSON.stringify(m1Done.error));
  assert.equal((await ok(bPort, ['status', 'slow'])).currentVersion, '1.2.0');

  const resumedBy = async (id: string) => {
    const items = (await ok(p.api, ['audit', '--instance', 'slow', '--action', 'deploy.resumed'])).items as { details: { deployment: string; why: string; step: string; by: string; from: string } }[];
    return items.find((e) => e.details.deployment === id)?.details;
  };
  const ended = (id: string, what: string) => waitFor(what, async () => {
    const r = await deployment(id);
    return r.status !== 'running' && r;
  }, 30_000);

  // A replica killed mid-deploy and restarted on its address resumes its deployment at once,
  // long before its 2-minute lease would expire (ADR 0026: before, it was failed).
  const cPort = await freePort();
  const c = await replica(cPort, longTtl);
  const restarted = (await ok(cPort, ['deploy', 'slow', '1.3.0'])).id as string;
  await atHealth(restarted);
  c.child.kill('SIGKILL');
  await c.stop();
  await replica(cPort, longTtl);
  const recovered = await ended(restarted, 'the restarted replica to finish its deployment');
  assert.equal(recovered.status, 'succeeded', JSON.stringify(recovered.error));
  const again = (await resumedBy(restarted))!;
  assert.deepEqual([again.step, again.why], ['health', 'previous incarnation']);
  assert.equal(again.by, again.from, 'the same replica address, a new incarnation');

  // Replica D (2 s lease) dies while deploying 1.4.0. Once its lease expires, the live replicas'
  // periodic pass (every lockTtl / 2) resumes it by itself (no new deploy triggers it), and it succeeds.
  const dPort = await freePort();
  const d = await replica(dPort, shortTtl);
  const stale = (await ok(dPort, ['deploy', 'slow', '1.4.0'])).id as string;
  await atHealth(stale);
  d.child.kill('SIGKILL');
  await d.stop();
  const staleDone = await ended(stale, 'a live replica to resume and finish the deployment');
  assert.equal(staleDone.status, 'succeeded', JSON.stringify(staleDone.error));
  assert.equal((await resumedBy(stale))?.why, 'lease expired');
  assert.equal((await ok(p.api, ['status', 'slow'])).currentVersion, '1.4.0');
  const redeployed = await cli(p.api, ['deploy', 'slow', '1.1.0', '--wait']);
  assert.equal(redeployed.code, 0, redeployed.stdout + redeployed.stderr);
  // Any replica start afterwards changes nothing.
  await replica(await freePort(), shortTtl);
  const status = await ok(p.api, ['status', 'slow']);
  assert.equal(status.currentVersion, '1.1.0');
  assert.equal(status.runtime.active, status.activeColor);
  const succeeded = (await ok(p.api, ['audit', '--instance', 'slow', '--action', 'deploy.succeeded'])).items as { details: { deployment: string }; version: string }[];
  assert.deepEqual(succeeded.map((e) => e.version), ['1.1.0', '1.4.0', '1.3.0', '1.2.0', '1.0.0'], 'each deployment succeeded once');

  const result = await traffic.stop();
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.ok(result.samples.some((s) => s.version === '1.2.0'));
  assert.equal(result.samples.at(-1)?.version, '1.1.0', 'the router serves what the records say');
  console.log(`# replicas e2e: ${Date.now() - started} ms, ${result.ok} requests`);
});
