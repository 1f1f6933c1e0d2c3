import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { manifest, startNetnsCluster, startProber, waitFor } from '../../src/testing/index.ts';
import type { MachineProbes, NetnsCluster } from '../../src/testing/index.ts';

/**
 * A server and two agents, each on a machine of its own (network namespaces, `startNetnsCluster`),
 * the agents dialling in over TLS (issue 17): instances placed on one machine each, deployed and
 * rolled back through the agents' sessions, with load through both routers from the server's
 * machine the whole time; the server killed and restarted while the agents serve on; a local
 * rollback on a machine while the server is away, recorded when it is back. Names and subnets come
 * from this process's pid.
 */
const isRoot = process.getuid?.() === 0;
const started = Date.now();
let c: NetnsCluster;

before(async () => {
  if (!isRoot) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: the network namespace tests must not be skipped there');
    return;
  }
  c = await startNetnsCluster({ agents: 2, prefix: 'fl' });
});

after(async () => {
  await c?.stop();
  console.log(`fleet netns e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

const onServer = (args: string[]) => c.run(...args);
const ok = (args: string[]) => c.cli(...args);

/** Load through both routers from the server's machine (as a load balancer in front would send it): a request every 2 ms to each. */
async function loadFromServerMachine(): Promise<{ stop(): Promise<Record<string, { ok: number; failed: unknown[]; versions: Record<string, number> }>> }> {
  const [a1, a2] = c.agents as [(typeof c.agents)[0], (typeof c.agents)[0]];
  const prober = await startProber({
    targets: [
      { machine: 'a.test', url: a1.router, host: 'a.test' },
      { machine: 'b.test', url: a2.router, host: 'b.test' },
    ],
    intervalMs: 2,
    durationMs: 120_000,
    netns: c.server.netns,
    dir: c.dir,
  });
  const tally = (m: MachineProbes) => {
    const versions: Record<string, number> = {};
    for (const s of m.samples) if (s.status === 200) versions[s.version] = (versions[s.version] ?? 0) + 1;
    return { ok: m.samples.filter((s) => s.status === 200).length, failed: m.samples.filter((s) => s.status !== 200), versions };
  };
  return { stop: async () => Object.fromEntries((await prober.stop()).map((m) => [m.machine, tally(m)])) };
}

test('two machines dial in; instances placed on each deploy, survive the server, and roll back (also locally) under load with zero failed requests', { skip: !isRoot }, async () => {
  await c.connected(2);

  for (const v of ['1.0.0', '2.0.0']) await ok(['release', 'publish', await manifest(c.dir, v)]);
  const unplaced = await onServer(['instance', 'create', 'shop', '--app', 'hello', '--host', 'shop.test']);
  assert.equal(unplaced.json.error.code, 'MACHINE_REQUIRED', unplaced.stdout);
  assert.match(unplaced.json.error.message, /web-1.*web-2|web-2.*web-1/);
  await ok(['instance', 'create', 'shop-a', '--app', 'hello', '--host', 'a.test', '--machine', 'web-1']);
  await ok(['instance', 'create', 'shop-b', '--app', 'hello', '--host', 'b.test', '--machine', 'web-2']);
  for (const i of ['shop-a', 'shop-b']) assert.equal((await ok(['deploy', i, '1.0.0', '--wait'])).status, 'succeeded');

  const traffic = await loadFromServerMachine();
  await new Promise((r) => setTimeout(r, 500));
  for (const i of ['shop-a', 'shop-b']) assert.equal((await ok(['deploy', i, '2.0.0', '--wait'])).status, 'succeeded');

  // The server dies; the agents serve on. Agent 2's operator rolls back on the machine itself.
  await c.killServer();
  const local = await c.onAgent(c.agents[1]!, 'local', 'rollback', 'shop-b');
  assert.equal(local.code, 0, local.stdout + local.stderr);
  await new Promise((r) => setTimeout(r, 500));
  await c.startServer();
  await c.connected(2);

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
  assert.equal(refused.json.error.code, 'AGENT_UNREACHABLE', refused.stdout);
  assert.match(refused.json.error.message, /\(web-2\)/, 'the refusal names the machine');
});
