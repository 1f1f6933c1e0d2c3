import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_HOME, cutover, load, manifest, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * A data directory laid out by the previous versions, with a live instance: the admin token in
 * `<dataDir>/cli.json`, no contexts file, the credentials and the database directly in the data
 * directory and the agent's state and pid files directly in `agent/` (no `private/` directories),
 * and the loose modes those versions left (review H1, L4). A server start moves the token out and
 * removes cli.json, and moves the credentials and the database into `private/`; an agent start
 * (a takeover from the running agent) moves its files into `agent/private/`; both set the modes;
 * the CLI keeps working and the instance keeps serving throughout. A second server on the same
 * data directory does not redirect the CLI away from the live one (review M1).
 */
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse())
    await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
});

const mode = async (p: string) => (await stat(p)).mode & 0o7777;
const ignoreMissing = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') throw error;
};

/** Where the files are now, and where the earlier layout kept them (`-wal`, `-shm`: while open). */
const OLD_LAYOUT = ['agent-token', 'agent.json', 'cutover.db', 'cutover.db-wal', 'cutover.db-shm'].map((f) => [`private/${f}`, f] as const);
const OLD_AGENT_LAYOUT = ['state.a', 'state.b', 'agent.pid'].map((f) => [`agent/private/${f}`, `agent/${f}`] as const);

test('an old data directory with a live instance is migrated in place', async () => {
  const began = Date.now();
  const data = await tempDir('migrate');
  cleanup.push(data.cleanup);
  const dir = data.dir;
  const p = await ports();
  const agentArgs = ['agent', '--http-port', String(p.http)];
  let agent = await startProcess(dir, agentArgs);
  cleanup.push(() => agent.stop());
  const serverArgs = ['server', '--api-port', String(p.api)];
  let server = await startProcess(dir, serverArgs);
  cleanup.push(() => server.stop());
  const adminToken = server.info.adminToken as string;
  assert.match(adminToken, /^cut_/);
  assert.equal((await cutover(dir, ['release', 'publish', await manifest(dir, '1.0.0')])).code, 0);
  assert.equal(
    (await cutover(dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code,
    0,
  );
  const deployed = await cutover(dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);

  const traffic = load(p.http, 'web.test', 4);
  let trafficStopped = false;
  cleanup.push(async () => void (trafficStopped || (await traffic.stop())));
  await waitFor('load to reach steady state', async () => traffic.result.ok > 20, 10_000);

  // The previous version's layout: the token in cli.json, no contexts file, and (server stopped)
  // every mode loosened the way that version (or an operator) left them.
  const url = server.info.api as string;
  await writeFile(join(dir, 'cli.json'), JSON.stringify({ url, token: adminToken }, null, 2) + '\n', {
    mode: 0o644,
  });
  await chmod(join(dir, 'cli.json'), 0o644);
  await rm(join(CONFIG_HOME, 'cutover'), { recursive: true, force: true });
  // Until a server start migrates it, the CLI still finds the server through the old cli.json.
  const before = await cutover(dir, ['status', 'web']);
  assert.equal(before.code, 0, before.stdout + before.stderr);
  await server.stop();
  // The earlier layout, moved back by hand under the running agent (it keeps its state files
  // open: a rename keeps the inode; it names itself in agent/agent.pid, as that version did).
  for (const [from, to] of [...OLD_LAYOUT, ...OLD_AGENT_LAYOUT]) await rename(join(dir, from), join(dir, to)).catch(ignoreMissing);
  // That version had no local socket (`cutover local rollback`): the running agent's goes with the directory.
  await rm(join(dir, 'agent', 'private', 'local.sock'), { force: true });
  // Nor the list of servers its agent dials, nor downloads; it had the agent control API's token and
  // endpoint instead (agents dial the server now: a start removes them).
  await rm(join(dir, 'private', 'servers.json'), { force: true });
  await rm(join(dir, 'agent', 'private', 'downloads'), { recursive: true, force: true });
  await writeFile(join(dir, 'agent-token'), 'an-earlier-agent-token\n');
  await writeFile(join(dir, 'agent.json'), '{"url":"http://127.0.0.1:7071"}\n');
  // Nor app-config keys (issue 20): a start writes the first one.
  await rm(join(dir, 'private', 'app-config-keys'), { recursive: true, force: true });
  await rmdir(join(dir, 'private'));
  // This version's agent joined as a machine: its link (agent/private/machine.json) stays; an
  // earlier version's agent that never joined is taken over by `up` (test/in-place-upgrade.e2e.test.ts).
  const loose: [string, number][] = [
    ['', 0o755],
    ['agent-token', 0o644],
    ['agent.json', 0o644],
    ['cutover.db', 0o644],
    ['artifacts', 0o755],
    ['agent', 0o777],
    ['agent/logs', 0o755],
    ['agent/artifacts', 0o755],
    ['agent/state.a', 0o644],
    ['agent/state.b', 0o644],
  ];
  for (const [path, m] of loose) await chmod(join(dir, path), m);

  server = await startProcess(dir, serverArgs);
  await assert.rejects(stat(join(dir, 'cli.json')), { code: 'ENOENT' }, 'cli.json is removed');
  const contextsFile = join(CONFIG_HOME, 'cutover', 'contexts.json');
  assert.equal(await mode(join(CONFIG_HOME, 'cutover')), 0o700);
  assert.equal(await mode(contextsFile), 0o600);
  const contexts = JSON.parse(await readFile(contextsFile, 'utf8'));
  assert.equal(contexts.contexts[url].token, adminToken, 'the admin token moved to the contexts file');
  assert.equal(contexts.dataDirs[dir], url);
  assert.equal(await mode(dir), 0o711);
  assert.equal(await mode(join(dir, 'private')), 0o700);
  for (const f of ['cutover.db', 'cutover.db-wal', 'cutover.db-shm']) assert.equal(await mode(join(dir, 'private', f)), 0o600, f);
  for (const [, old] of OLD_LAYOUT) await assert.rejects(stat(join(dir, old)), { code: 'ENOENT' }, `${old} moved into private/ or removed`);
  for (const f of ['agent-token', 'agent.json']) await assert.rejects(stat(join(dir, 'private', f)), { code: 'ENOENT' }, `${f} of the control API is gone`);
  assert.equal(await mode(join(dir, 'artifacts')), 0o700);

  // The CLI finds the server and the token with no set-up, by data directory.
  const status = await cutover(dir, ['status', 'web']);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.equal(status.json.currentVersion, '1.0.0');
  assert.equal((await cutover(dir, ['token', 'list'])).code, 0, 'with the admin token');

  // M1: a replica starting on the same data directory leaves the CLI on the live server.
  const replicaPort = (await ports()).api;
  const replica = await startProcess(dir, [
    'server',
    '--api-port',
    String(replicaPort),
  ]);
  cleanup.push(() => replica.stop());
  const after1 = JSON.parse(await readFile(contextsFile, 'utf8'));
  assert.equal(after1.dataDirs[dir], url, 'the data directory still names the live server');
  assert.equal(after1.current, url);
  assert.equal(after1.contexts[replica.info.api].token, adminToken, 'the replica is usable by its URL');
  assert.equal((await cutover(dir, ['status', 'web'])).code, 0);
  await replica.stop();

  // The agent's part: a restart (handover to a new agent) sets the modes of its files.
  const old = agent;
  agent = await startProcess(dir, [...agentArgs, '--takeover']);
  // The old agent exits by itself once it has handed over (a SIGTERM would stop the slots).
  await waitFor('the old agent to exit', async () => old.child.exitCode !== null || old.child.signalCode !== null, 30_000);
  assert.equal(await mode(join(dir, 'agent')), 0o711);
  for (const d of ['agent/private', 'agent/logs', 'agent/artifacts']) assert.equal(await mode(join(dir, d)), 0o700, d);
  for (const f of ['agent/private/state.a', 'agent/private/state.b', 'agent/private/agent.pid'])
    assert.equal(await mode(join(dir, f)), 0o600, f);
  for (const [, old] of OLD_AGENT_LAYOUT) await assert.rejects(stat(join(dir, old)), { code: 'ENOENT' }, `${old} moved into agent/private/`);
  await waitFor('the new agent to name itself in agent/private/agent.pid', async () => JSON.parse(await readFile(join(dir, 'agent/private/agent.pid'), 'utf8')).pid === agent.child.pid, 10_000);

  const result = await traffic.stop();
  trafficStopped = true;
  assert.deepEqual(result.failed, [], 'the instance served every request through the migration');
  assert.ok(result.ok > 50);
  const again = await cutover(dir, ['status', 'web']);
  assert.equal(again.json.currentVersion, '1.0.0');
  console.log(`data-dir migration e2e: ${((Date.now() - began) / 1000).toFixed(1)} s`);
});
