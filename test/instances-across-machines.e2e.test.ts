import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { cutover, freePort, load, manifest, startProcess, tempDir } from './helpers.ts';
import type { LoadResult } from './helpers.ts';

/**
 * An instance on three machines, on one host: a server and three agents over loopback (each its own
 * data directory and router port), the instance placed by a machine selector (issue 18). A deploy
 * starts and checks the release on each, then flips all of them; under load through every router,
 * zero failed requests; a rollback flips all back; an agent stopped makes a forward deployment
 * refuse (naming it) and a rollback skip it (partial); when it is back it converges. A rolling
 * deployment with a failure budget leaves a machine whose release is unhealthy on the old one, goes
 * on, ends partial; once the machine is fixed it converges.
 * The fault cases across network namespaces are in `test/netns/instances.e2e.test.ts`.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let serverDir: string;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;
const agents: { name: string; dir: string; http: number; proc?: Awaited<ReturnType<typeof startProcess>> }[] = [];
const started = Date.now();

const cli = (args: string[]) => cutover(serverDir, args);

async function startAgent(a: (typeof agents)[number], token?: string): Promise<void> {
  a.proc = await startProcess(a.dir, ['agent', '--server', server!.info.api, '--name', a.name, '--http-port', String(a.http), '--label', 'role=web'], token ? { CUTOVER_JOIN_TOKEN: token } : {});
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = await check();
    if (seen !== undefined) return seen;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  data = await tempDir('machines3');
  await chmod(data.dir, 0o711); // the agents' data directories sit inside: slot users pass through
  serverDir = join(data.dir, 'server');
  server = await startProcess(serverDir, ['server', '--api-port', String(await freePort())], { CUTOVER_BAKE_WINDOW: '0', CUTOVER_BAKE_CHECK_INTERVAL: '1s', CUTOVER_FLIP_TIMEOUT: '500ms' });
  for (const name of ['web-1', 'web-2', 'web-3']) {
    const a = { name, dir: join(data.dir, name), http: await freePort() };
    agents.push(a);
    const token = await cli(['join-token', 'create', '--expires', '10m']);
    assert.equal(token.code, 0, token.stdout + token.stderr);
    await startAgent(a, token.json.token);
  }
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    const r = await cli(['release', 'publish', await manifest(serverDir, v)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  // Unhealthy on a machine whose data directory holds a `sick` file (the slot's state directory is
  // <agent data dir>/agent/homes/<instance>); a short deployTimeout so the failure comes soon.
  const sickWhere = 'start: "UNHEALTHY_FILE=$CUTOVER_STATE_DIR/../../../sick exec node server.js"\ndeployTimeout: 3s\n';
  const r = await cli(['release', 'publish', await manifest(serverDir, '1.3.0', sickWhere)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

after(async () => {
  for (const a of agents) await a.proc?.stop().catch(() => {});
  await server?.stop().catch(() => {});
  await data?.cleanup();
  console.log(`instances across machines e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** What each router answers for `host` (its `x-app-version`), null when it does not answer. */
const versionsOn = async (host: string) =>
  Promise.all(
    agents.map(async (a) => {
      try {
        const res = await request(`http://127.0.0.1:${a.http}/api/version`, { headers: { host } });
        await res.body.dump();
        return res.statusCode === 200 ? String(res.headers['x-app-version']) : null;
      } catch {
        return null;
      }
    }),
  );

test('a selector places the instance on three machines; deploys flip all of them together under load; a rollback too', async () => {
  const created = await cli(['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test', '--machine-selector', 'role=web']);
  assert.equal(created.code, 0, created.stdout + created.stderr);
  assert.deepEqual(created.json.placement, { selector: 'role=web' });
  const first = await cli(['deploy', 'shop', '1.0.0', '--wait']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.deepEqual(first.json.machines, { placed: ['web-1', 'web-2', 'web-3'], skipped: [], unconfirmed: [], pending: [] });
  assert.deepEqual(await versionsOn('shop.test'), ['1.0.0', '1.0.0', '1.0.0']);

  const traffic = agents.map((a) => load(a.http, 'shop.test', 2));
  let results: LoadResult[];
  try {
    await new Promise((r) => setTimeout(r, 300));
    const second = await cli(['deploy', 'shop', '1.1.0', '--wait']);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const flip = second.json.steps.find((s: { name: string }) => s.name === 'flip');
    assert.deepEqual(Object.keys(flip.detail.flips).sort(), ['web-1', 'web-2', 'web-3'], 'each machine acknowledged');
    const times = Object.values(flip.detail.flips as Record<string, string>).map((t) => Date.parse(t));
    assert.ok(Math.max(...times) - Math.min(...times) < 1000, `flipped together: ${JSON.stringify(flip.detail.flips)}`);
    await new Promise((r) => setTimeout(r, 300));
    const back = await cli(['rollback', 'shop', '--wait', '--reason', 'e2e']);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    results = await Promise.all(traffic.map((t) => t.stop()));
  }
  results.forEach((r, k) => {
    assert.deepEqual(r.failed, [], `zero failed requests through ${agents[k]!.name}`);
    assert.ok(r.ok > 20, `load reached ${agents[k]!.name}`);
  });
  assert.deepEqual(await versionsOn('shop.test'), ['1.0.0', '1.0.0', '1.0.0']);
  // Settled: every machine acknowledged its desired state (sent every bakeCheckInterval, 1 s here) and serves the live release.
  const status = await until('the instance to settle', async () => {
    const s = await cli(['status', 'shop']);
    return s.json.settled === true ? s : undefined;
  });
  assert.deepEqual(
    status.json.machines.map((m: { name: string; connected: boolean; serving: { version: string }; onDesired: boolean }) => [m.name, m.connected, m.serving.version, m.onDesired]),
    [['web-1', true, '1.0.0', true], ['web-2', true, '1.0.0', true], ['web-3', true, '1.0.0', true]],
  );
});

test('a machine away: a forward deployment refuses naming it; a rollback skips it (partial); back, it converges', async () => {
  const forward = await cli(['deploy', 'shop', '1.1.0', '--wait']);
  assert.equal(forward.code, 0, forward.stdout + forward.stderr);
  await agents[2]!.proc!.stop();
  const refused = await cli(['deploy', 'shop', '1.2.0', '--wait']);
  assert.equal(refused.code, 6, refused.stdout);
  assert.equal(refused.json.error.code, 'AGENT_UNREACHABLE');
  assert.match(refused.json.error.message, /machine web-3 of instance "shop" is not connected.*--skip-unreachable/);
  const skipped = await cli(['deploy', 'shop', '1.2.0', '--wait', '--skip-unreachable']);
  assert.equal(skipped.code, 2, 'an admin skips machines with a reason for the audit log');
  assert.match(skipped.stdout, /skipUnreachable needs a reason/);
  const rollback = await cli(['rollback', 'shop', '--wait', '--reason', 'e2e']);
  assert.equal(rollback.code, 12, rollback.stdout + rollback.stderr);
  assert.equal(rollback.json.status, 'partial');
  assert.deepEqual(rollback.json.machines.skipped, ['web-3']);
  const away = await cli(['status', 'shop']);
  const web3 = away.json.machines.find((m: { name: string }) => m.name === 'web-3');
  assert.deepEqual([web3.connected, web3.serving?.version, web3.onDesired], [false, '1.1.0', false], 'its last report: still 1.1.0');

  await startAgent(agents[2]!);
  const converged = await until('web-3 to converge on 1.0.0', async () => {
    const [, , v3] = await versionsOn('shop.test');
    return v3 === '1.0.0' ? v3 : undefined;
  });
  assert.equal(converged, '1.0.0');
  assert.deepEqual(await versionsOn('shop.test'), ['1.0.0', '1.0.0', '1.0.0']);
  const ready = await until('web-3 ready', async () => {
    const res = await request(`http://127.0.0.1:${agents[2]!.http}/.well-known/cutover/ready`, { headers: { host: 'shop.test' } });
    const body = await res.body.text();
    return res.statusCode === 200 ? body : undefined;
  });
  assert.match(ready, /"version":"1\.0\.0"/);
});

test('a local rollback on one machine while the server is down becomes, when it is back, a rollback of every machine', async () => {
  const forward = await cli(['deploy', 'shop', '1.2.0', '--wait']);
  assert.equal(forward.code, 0, forward.stdout + forward.stderr);
  assert.deepEqual(await versionsOn('shop.test'), ['1.2.0', '1.2.0', '1.2.0']);
  const apiPort = new URL(server!.info.api).port;
  await server!.stop();
  const local = await cutover(agents[0]!.dir, ['local', 'rollback', 'shop']);
  assert.equal(local.code, 0, local.stdout + local.stderr);
  assert.deepEqual(await versionsOn('shop.test'), ['1.0.0', '1.2.0', '1.2.0'], 'only web-1 rolled back while the server was away');

  server = await startProcess(serverDir, ['server', '--api-port', apiPort], { CUTOVER_BAKE_WINDOW: '0', CUTOVER_BAKE_CHECK_INTERVAL: '1s', CUTOVER_FLIP_TIMEOUT: '500ms' });
  const all = await until('every machine back on 1.0.0', async () => {
    const v = await versionsOn('shop.test');
    return v.every((x) => x === '1.0.0') ? v : undefined;
  });
  assert.deepEqual(all, ['1.0.0', '1.0.0', '1.0.0']);
  const history = await cli(['history', 'shop']);
  assert.equal(history.json.items[0].actor, 'machine:web-1', 'recorded as the machine’s rollback');
  assert.equal(history.json.items[0].toVersion, '1.0.0');
});

test('--rolling with a failure budget: a machine unhealthy within it stays on the old release under load, the deployment ends partial; once fixed it converges', async () => {
  const [before] = await versionsOn('shop.test');
  assert.deepEqual(await versionsOn('shop.test'), [before, before, before]);
  const sick = join(agents[1]!.dir, 'sick');
  await writeFile(sick, '');
  await chmod(sick, 0o644);
  const traffic = agents.map((a) => load(a.http, 'shop.test', 2));
  let results: LoadResult[];
  try {
    const rolled = await cli(['deploy', 'shop', '1.3.0', '--rolling', '--max-unavailable', '1', '--max-failures', '1', '--wait']);
    assert.equal(rolled.code, 12, `partial exits 12: ${rolled.stdout}${rolled.stderr}`);
    assert.equal(rolled.json.status, 'partial');
    assert.deepEqual(rolled.json.machines.failed, ['web-2']);
    assert.deepEqual(rolled.json.steps.map((s: { name: string }) => s.name), ['prepare', 'batch-1', 'batch-2', 'batch-3', 'finalise']);
    assert.deepEqual(await versionsOn('shop.test'), ['1.3.0', before, '1.3.0'], 'web-2 stays on the old release');
    await rm(sick);
    await until('web-2 to converge on 1.3.0', async () => ((await versionsOn('shop.test'))[1] === '1.3.0' ? true : undefined));
  } finally {
    results = await Promise.all(traffic.map((t) => t.stop()));
  }
  results.forEach((res, k) => assert.deepEqual(res.failed, [], `zero failed requests through ${agents[k]!.name}`));
  const refused = await cli(['deploy', 'shop', '1.2.0', '--rolling', '--max-failures', '3']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.json.error.message, /--max-failures 3 would let every machine/);
});
