import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cutover, manifest, startProcess, tempDir, waitFor } from '../helpers.ts';
import { makeTestCerts } from '../tls-certs.ts';
import type { TestCerts } from '../tls-certs.ts';

/**
 * A server and two agents, each on a machine of its own (network namespaces), the agents dialling
 * in over TLS (issue 17): instances placed on one machine each, deployed and rolled back through
 * the agents' sessions, with load through both routers from the server's machine the whole time;
 * the server killed and restarted while the agents serve on; a local rollback on a machine while
 * the server is away, recorded when it is back. Names and subnets come from this process's pid.
 */
const run = promisify(execFile);
const pid = process.pid;
const ns = { server: `cfs-${pid}`, a1: `cfa-${pid}`, a2: `cfb-${pid}` };
const veth = { s1: `cf1s${pid}`, a1: `cf1a${pid}`, s2: `cf2s${pid}`, a2: `cf2a${pid}` };
// A /29 of the pid's own: two /30 links, server–agent 1 (.1/.2) and server–agent 2 (.5/.6).
const n = (pid & 0x1fffff) << 3;
const ip = (last: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) + last}`;
const addr = { s1: ip(1), a1: ip(2), s2: ip(5), a2: ip(6) };

const isRoot = process.getuid?.() === 0;
const started = Date.now();
let data: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCerts;
let serverDir: string;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;
const running: { stop(): Promise<void> }[] = [];
let netnsMade = false;
const url = () => `https://${addr.s1}:7443`;

const sh = (...args: string[]) => run('ip', args);

async function startServer() {
  server = await startProcess(serverDir, ['server', '--api-host', addr.s1, '--api-port', '7443', '--tls-cert', certs.cert, '--tls-key', certs.key], {}, { netns: ns.server });
  running.push(server);
}

before(async () => {
  if (!isRoot) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: the network namespace tests must not be skipped there');
    return;
  }
  data = await tempDir('fleet-netns');
  await chmod(data.dir, 0o711); // each agent's slot users pass through to its data directory
  netnsMade = true;
  for (const name of Object.values(ns)) await sh('netns', 'add', name);
  for (const [s, a, agentNs] of [[veth.s1, veth.a1, ns.a1], [veth.s2, veth.a2, ns.a2]] as const) {
    await sh('link', 'add', s, 'type', 'veth', 'peer', 'name', a);
    await sh('link', 'set', s, 'netns', ns.server);
    await sh('link', 'set', a, 'netns', agentNs);
  }
  const side = async (where: string, dev: string, address: string) => {
    await sh('-n', where, 'addr', 'add', `${address}/30`, 'dev', dev);
    await sh('-n', where, 'link', 'set', dev, 'up');
    await sh('-n', where, 'link', 'set', 'lo', 'up');
  };
  await side(ns.server, veth.s1, addr.s1);
  await side(ns.server, veth.s2, addr.s2);
  await side(ns.a1, veth.a1, addr.a1);
  await side(ns.a2, veth.a2, addr.a2);
  // Agent 2 reaches the server's address on the first link through its own link.
  await sh('-n', ns.a2, 'route', 'add', `${addr.s1}/32`, 'via', addr.s2);
  certs = await makeTestCerts(data.dir, [addr.s1]);
  serverDir = join(data.dir, 'server');
  await startServer();
});

after(async () => {
  for (const p of running.reverse()) await p.stop().catch(() => {});
  if (netnsMade) for (const name of Object.values(ns)) await sh('netns', 'del', name).catch(() => {});
  await data?.cleanup();
  console.log(`fleet netns e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

const onServer = async (args: string[]) => {
  const r = await cutover(serverDir, [...args, '--ca-file', certs.ca], {}, { netns: ns.server });
  return r;
};
const ok = async (args: string[]) => {
  const r = await onServer(args);
  assert.equal(r.code, 0, `cutover ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.json;
};

async function startAgent(name: string, where: string) {
  const token = await ok(['join-token', 'create', '--expires', '10m']);
  const agent = await startProcess(
    join(data.dir, name),
    ['agent', '--server', url(), '--name', name, '--label', 'role=web', '--http-host', '0.0.0.0', '--http-port', '8080'],
    { CUTOVER_JOIN_TOKEN: token.token },
    { netns: where },
  );
  running.push(agent);
  return agent;
}

/** Load through both routers from the server's machine (as a load balancer in front would send it). */
function loadFromServerMachine(): { stop(): Promise<Record<string, { ok: number; failed: unknown[]; versions: Record<string, number> }>> } {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.server, process.execPath, join(import.meta.dirname, '..', 'fixtures', 'load.mjs'), `http://${addr.a1}:8080`, 'a.test', `http://${addr.a2}:8080`, 'b.test'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  running.push({ stop: async () => void child.kill('SIGKILL') });
  return {
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out.trim().split('\n').pop()!);
    },
  };
}

test('two machines dial in; instances placed on each deploy, survive the server, and roll back (also locally) under load with zero failed requests', { skip: !isRoot }, async () => {
  await startAgent('web-1', ns.a1);
  await startAgent('web-2', ns.a2);
  await waitFor('both machines connected', async () => (await ok(['machine', 'list'])).items.filter((m: { connected?: boolean }) => m.connected).length === 2, 15_000);

  for (const v of ['1.0.0', '2.0.0']) await ok(['release', 'publish', await manifest(data.dir, v)]);
  const unplaced = await onServer(['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test']);
  assert.equal(unplaced.json.error.code, 'MACHINE_REQUIRED', unplaced.stdout);
  assert.match(unplaced.json.error.message, /web-1.*web-2|web-2.*web-1/);
  await ok(['instance', 'create', 'shop-a', '--app', 'hello', '--host', 'a.test', '--machine', 'web-1']);
  await ok(['instance', 'create', 'shop-b', '--app', 'hello', '--host', 'b.test', '--machine', 'web-2']);
  for (const i of ['shop-a', 'shop-b']) assert.equal((await ok(['deploy', i, '1.0.0', '--wait'])).status, 'succeeded');

  const traffic = loadFromServerMachine();
  await new Promise((r) => setTimeout(r, 500));
  for (const i of ['shop-a', 'shop-b']) assert.equal((await ok(['deploy', i, '2.0.0', '--wait'])).status, 'succeeded');

  // The server dies; the agents serve on. Agent 2's operator rolls back on the machine itself.
  server!.child.kill('SIGKILL');
  await new Promise((r) => server!.child.once('exit', r));
  const local = await cutover(join(data.dir, 'web-2'), ['local', 'rollback', 'shop-b'], {}, { netns: ns.a2 });
  assert.equal(local.code, 0, local.stdout + local.stderr);
  await new Promise((r) => setTimeout(r, 500));
  await startServer();
  await waitFor('both machines back', async () => (await ok(['machine', 'list'])).items.filter((m: { connected?: boolean }) => m.connected).length === 2, 20_000);

  // The local rollback became an audited rollback deployment by the machine; nothing flipped it forward.
  const recorded = await waitFor(
    'the local rollback recorded',
    async () => (await ok(['deployments', 'shop-b'])).items.find((d: { actor: string }) => d.actor === 'machine:web-2'),
    15_000,
  );
  assert.equal(recorded.toVersion, '1.0.0');
  const rolledBack = await ok(['rollback', 'shop-a', '--wait', '--reason', 'e2e']);
  assert.equal(rolledBack.toVersion, '1.0.0');
  await new Promise((r) => setTimeout(r, 500));
  const result = await traffic.stop();
  for (const host of ['a.test', 'b.test']) {
    assert.deepEqual(result[host]!.failed, [], `zero failed requests through ${host}'s router`);
    assert.ok(result[host]!.ok > 100, `enough load through ${host} (${result[host]!.ok})`);
    assert.ok(result[host]!.versions['2.0.0']! > 0 && result[host]!.versions['1.0.0']! > 0, JSON.stringify(result[host]!.versions));
  }
  const status = await ok(['status', 'shop-b']);
  assert.equal(status.currentVersion, '1.0.0', JSON.stringify(status));

  // Each machine acknowledged its desired state and serves what it says (no drift).
  await waitFor(
    'no drift',
    async () => (await ok(['machine', 'list'])).items.every((m: { drift: { state: string } }) => m.drift.state === 'none'),
    15_000,
  );
  const logs = await onServer(['logs', 'shop-a', '--tail', '5']);
  assert.equal(logs.code, 0, logs.stdout + logs.stderr);
  assert.ok(logs.stdout.trim().split('\n').every((l) => JSON.parse(l).machine === 'web-1'), logs.stdout);

  // A rotated credential ends the machine's session, and the old one opens no other; its router serves on.
  await ok(['machine', 'rotate-credential', 'web-2']);
  await waitFor('web-2 disconnected', async () => (await ok(['machine', 'list'])).items.find((m: { name: string }) => m.name === 'web-2').connected === false, 10_000);
  // (An agent whose welcomed session ends dials again within half a second: a second is enough to see it refused.)
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await ok(['machine', 'show', 'web-2'])).connected, false, 'the old credential opens no new session');
  const refused = await onServer(['deploy', 'shop-b', '2.0.0', '--wait']);
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.match(refused.stdout, /machine web-2 is not connected/);
});
