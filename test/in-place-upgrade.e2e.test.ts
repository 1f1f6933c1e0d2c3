import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { alive, cutover, load, manifest, portFlags, ports, startProcess, tempDir, waitFor } from './helpers.ts';
import type { Ports } from './helpers.ts';

/**
 * An install of the earlier version upgraded in place (issue 17): one agent that never joined (the
 * server dialled its control API), instances placed on no machine, traffic flowing. `cutover up` of
 * this version takes the agent over without dropping a request, the new agent joins as the machine
 * named after the host, and every instance is placed on it.
 *
 * The earlier version's data directory is made from this version's by taking away, with its server
 * down and its agent serving, what joining added: the agent's machine link, the machine rows and
 * the instances' placement. The agent process that keeps serving is this version's, so what is
 * exercised is how this version meets such a directory, not the earlier code itself.
 */
const started = Date.now();
let data: Awaited<ReturnType<typeof tempDir>>;
let p: Ports;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  data = await tempDir('upgrade');
  p = await ports();
});

after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await data?.cleanup();
  console.log(`in-place upgrade e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('an agent that never joined is taken over by up without dropping a request; it joins as this host and its instances are placed on it', async () => {
  const up1 = await startProcess(data.dir, ['up', ...portFlags(p)]);
  stops.push(up1.stop);
  const oldAgent = up1.info.agent.pid as number;
  // The agent outlives its server below; if the test fails before the takeover, it is ended here, by its pid.
  stops.unshift(async () => {
    if (alive(oldAgent)) process.kill(oldAgent, 'SIGTERM');
  });
  for (const v of ['1.0.0', '2.0.0']) assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])).code, 0);
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait'])).json.status, 'succeeded');

  const traffic = load(p.http, 'web.test', 8);
  stops.push(async () => void (await traffic.stop()));
  await waitFor('load through the agent', () => traffic.result.ok > 20, 10_000);

  // The earlier version's install: its server stopped, its agent serving and never joined.
  up1.child.kill('SIGKILL');
  await up1.stop();
  assert.ok(alive(oldAgent), 'the agent serves on without its server');
  await rm(join(data.dir, 'agent', 'private', 'machine.json'));
  const db = new DatabaseSync(join(data.dir, 'private', 'cutover.db'));
  db.exec('UPDATE instances SET placement = NULL; DELETE FROM machine_desired; DELETE FROM machines;');
  db.close();
  const okBefore = traffic.result.ok;
  await waitFor('load through the agent without a server', () => traffic.result.ok > okBefore + 20, 10_000);

  const up2 = await startProcess(data.dir, ['up', ...portFlags(p)]);
  stops.push(up2.stop);
  assert.equal(up2.info.agent.tookOverFrom, oldAgent, 'up took over from the agent that never joined');
  const machine = up2.info.machine as string;
  await waitFor('the earlier agent to hand over and exit', () => !alive(oldAgent), 30_000);

  const machines = await cutover(data.dir, ['machine', 'list']);
  assert.deepEqual(
    machines.json.items.map((m: { name: string; connected: boolean; instances: string[] }) => [m.name, m.connected, m.instances]),
    [[machine, true, ['web']]],
    'one machine, this host, connected, with the instance placed on it',
  );
  const audit = await cutover(data.dir, ['audit', '--action', 'instance.update']);
  assert.ok(
    audit.json.items.some((e: { actor: string; subject: string }) => e.actor === 'placement' && e.subject === 'web'),
    `the placement is audited: ${audit.stdout}`,
  );

  const deployed = await cutover(data.dir, ['deploy', 'web', '2.0.0', '--wait']);
  assert.equal(deployed.json.status, 'succeeded', deployed.stdout + deployed.stderr);
  await waitFor('2.0.0 served', () => traffic.result.samples.at(-1)?.version === '2.0.0', 10_000);
  const result = await traffic.stop();
  assert.deepEqual(result.failed, [], 'zero failed requests through the takeover, the join and the deploy');
  const versions = new Set(result.samples.map((s) => s.version));
  assert.ok(versions.has('1.0.0') && versions.has('2.0.0'), [...versions].join(','));
});
