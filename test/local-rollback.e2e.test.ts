import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { readPidFile } from '../src/supervisor/index.ts';
import { CLI, alive, assertReachableByOthers, cutover, cutoverText, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * Issue 17, "when the server is away": with `cutover up`'s server gone (kill -9) and its agent
 * serving under load, `cutover local rollback` on the machine flips to the warm slot at once;
 * the server, started again, records it as a rollback deployment by `machine:<host name>` and
 * audits it, and never flips the machine forward to undo it. Refusals (an unknown instance, no
 * warm slot, another user) are clear errors that change nothing. Zero failed requests throughout.
 */
const started = performance.now();
const NOBODY = 65534;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
  console.log(`# local-rollback e2e: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

/** Kills a process and its group by pid (what a failed test leaves). */
function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // not a group leader, or gone
    }
  }
}

/** One request on a fresh connection: the version that answered. */
function version(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/version', agent: false, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? String(res.headers['x-app-version']) : `status ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `cutover local rollback` as nobody (no supplementary groups), from root. */
function asNobody(dataDir: string, instance: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, CLI, '--data-dir', dataDir, 'local', 'rollback', instance];
  return new Promise((resolve) => {
    execFile('setpriv', argv, { env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('cutover local rollback while the server is away: served at once, recorded and audited when it is back, never undone', { timeout: 240_000 }, async () => {
  if (process.getuid?.() !== 0) assert.notEqual(process.env.CI, 'true', 'CI runs as root: the other-user check must not be skipped there');
  const data = await tempDir('local-rollback');
  cleanup.push(data.cleanup);
  const p = await ports();
  // The watchers every second, so "a few health intervals" is a few seconds.
  const env = { CUTOVER_BAKE_CHECK_INTERVAL: '1s' };
  const up1 = await startProcess(data.dir, ['up', ...portFlags(p)], env);
  cleanup.push(up1.stop);
  const agentPid = up1.info.agent.pid as number;
  cleanup.push(async () => {
    if (alive(agentPid)) {
      process.kill(agentPid, 'SIGTERM');
      await waitFor('the agent to stop', async () => !alive(agentPid), 20_000).catch(() => kill(agentPid));
    }
    for (const [instance, color] of [['web', 'blue'], ['web', 'green'], ['solo', 'blue']] as const) {
      const slot = await readPidFile(join(data.dir, 'agent', 'logs'), instance, color);
      if (slot && alive(slot.pid)) kill(slot.pid);
    }
  });

  for (const v of ['1.0.0', '2.0.0']) assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])).code, 0);
  for (const [name, host] of [['web', 'web.test'], ['solo', 'solo.test']] as const) {
    assert.equal((await cutover(data.dir, ['instance', 'create', name, '--app', 'hello', '--host', host])).code, 0);
  }
  for (const [name, v] of [['web', '1.0.0'], ['web', '2.0.0'], ['solo', '1.0.0']] as const) {
    const deployed = await cutover(data.dir, ['deploy', name, v, '--wait']);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  }
  assert.equal(await version(p.http, 'web.test'), '2.0.0');

  const traffic = load(p.http, 'web.test', 4);
  let loadStopped = false;
  cleanup.push(async () => void (loadStopped || (await traffic.stop())));
  await waitFor('load through the router', async () => traffic.result.ok > 20, 10_000);

  // The server goes away; the agent serves on.
  up1.child.kill('SIGKILL');
  await up1.stop();
  assert.ok(alive(agentPid), 'the agent survives the server');

  // Refusals, each naming what is wrong, each changing nothing.
  const unknown = await cutover(data.dir, ['local', 'rollback', 'nope']);
  assert.equal(unknown.json?.error?.code, 'INSTANCE_NOT_FOUND', unknown.stdout + unknown.stderr);
  assert.match(unknown.json.error.message, /does not serve an instance named "nope"; it serves solo, web/);
  const noWarm = await cutoverText(data.dir, ['local', 'rollback', 'solo']);
  assert.notEqual(noWarm.code, 0);
  assert.match(noWarm.stderr, /^error \[NOTHING_TO_ROLL_BACK\]: instance "solo" has no earlier slot/m);
  if (process.getuid?.() === 0) {
    // The data directory lets others through (0711); the agent's private directory does not.
    for (const file of [process.execPath, CLI]) await assertReachableByOthers(file, 'nobody runs');
    const other = await asNobody(data.dir, 'web');
    assert.equal(other.code, 5, other.stdout + other.stderr);
    assert.match(other.stderr, /^error \[FORBIDDEN\]: permission denied on the agent's local socket .*local\.sock: only root and the user the agent runs as may use it/m);
    assert.doesNotMatch(other.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(await version(p.http, 'web.test'), '2.0.0', 'the refusals changed nothing');

  // The rollback on the machine: at once, to the warm slot.
  const rolled = await cutoverText(data.dir, ['local', 'rollback', 'web']);
  assert.equal(rolled.code, 0, rolled.stdout + rolled.stderr);
  const machine = hostname().toLowerCase();
  assert.match(rolled.stdout, new RegExp(`rolled back web on machine ${machine}: 2\\.0\\.0 \\(green\\) → 1\\.0\\.0 \\(blue\\) at `));
  assert.match(rolled.stdout, new RegExp(`the server records it as a rollback deployment by machine:${machine} when it is back`));
  const answers = await Promise.all(Array.from({ length: 20 }, () => version(p.http, 'web.test')));
  assert.deepEqual(answers, Array<string>(20).fill('1.0.0'), 'every new connection gets the warm release');
  const again = await cutover(data.dir, ['local', 'rollback', 'web']);
  assert.equal(again.json?.error?.code, 'ALREADY_ROLLED_BACK', 'a second one would go forward');

  // The server is back (reusing the agent): the report becomes an audited rollback deployment.
  const up2 = await startProcess(data.dir, ['up', ...portFlags(p)], env);
  cleanup.push(up2.stop);
  assert.equal(up2.info.agent.reused, true);
  const actor = `machine:${machine}`;
  let history: { kind: string; actor: string; fromVersion: string; toVersion: string; status: string; reason: string }[] = [];
  await waitFor('the local rollback recorded', async () => {
    history = (await cutover(data.dir, ['deployments', 'web'])).json?.items ?? [];
    return history[0]?.actor === actor;
  }, 20_000);
  assert.deepEqual(
    [history[0]!.kind, history[0]!.status, history[0]!.fromVersion, history[0]!.toVersion],
    ['rollback', 'succeeded', '2.0.0', '1.0.0'],
  );
  assert.match(history[0]!.reason, new RegExp(`local rollback on machine ${machine} at `));
  const audit = await cutover(data.dir, ['audit', '--instance', 'web', '--actor', actor]);
  assert.deepEqual(audit.json.items.map((e: { action: string }) => e.action).sort(), ['rollback.start', 'rollback.succeeded']);
  const status = await cutover(data.dir, ['status', 'web']);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.deepEqual([status.json.currentVersion, status.json.activeColor, status.json.agent.ok], ['1.0.0', 'blue', true]);

  // Two and a half health and bake intervals later: still 1.0.0, nothing flipped it forward.
  const deployments = history.length;
  const until = Date.now() + 2500;
  await waitFor('two and a half watcher intervals', async () => Date.now() > until, 10_000);
  assert.equal(await version(p.http, 'web.test'), '1.0.0');
  assert.equal(((await cutover(data.dir, ['history', 'web'])).json?.items ?? []).length, deployments, 'no deployment since');

  const result = await traffic.stop();
  loadStopped = true;
  assert.ok(result.ok > 100, `load ran (${result.ok} requests)`);
  assert.deepEqual(result.failed, [], 'zero failed requests through the server crash, the local rollback and the restart');
  await up2.stop();
  await waitFor('the agent to stop with the second up', async () => !alive(agentPid), 30_000);
  // No agent: the socket is gone with it, and the CLI says what to check.
  const none = await cutover(data.dir, ['local', 'rollback', 'web']);
  assert.equal(none.code, 6, none.stdout + none.stderr);
  assert.equal(none.json.error.code, 'AGENT_UNREACHABLE');
  assert.match(none.json.error.message, /is `cutover agent` \(or `cutover up`\) running with the data directory/);
});
