import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readPidFile } from '../src/supervisor/index.ts';
import { alive, CLI, cutover, freePort, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';
import type { CliResult, Ports } from './helpers.ts';

/**
 * `cutover up` after the `up` process died (acceptance defects §1), and ports only one agent owns
 * (issue 10): a second `up` with another data directory and the same `--http-port` is refused;
 * `kill -9` of `up` leaves its agent serving; `up` again with the same ports reuses that agent
 * (one agent for the data directory), with other ports it refuses; SIGTERM on the second `up`
 * stops the server, the reused agent and every slot. Load runs from before the `kill -9` to the end.
 */
const started = performance.now();
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse())
    await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
  console.log(`# up-after-crash e2e: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

/** Whether the process runs: a zombie (an orphan whose exit nobody reaped yet, e.g. when pid 1 does not reap) has stopped. */

/** Kills a process (and its group, which a slot leads) by pid. */
function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // not a group leader, or gone
    }
  }
}

/** Kills what a failed test left behind, by pid. */
function killLater(pid: number): void {
  cleanup.push(async () => {
    if (alive(pid)) kill(pid);
  });
}

/**
 * After a failed test: stops the agent by pid with SIGTERM (it stops its slots), then kills any
 * slot process its pid files still name.
 */
function stopAgentLater(agentPid: number, dataDir: string): void {
  cleanup.push(async () => {
    if (alive(agentPid)) {
      process.kill(agentPid, 'SIGTERM');
      await waitFor('the agent to stop', async () => !alive(agentPid), 20_000).catch(() => kill(agentPid));
    }
    for (const color of ['blue', 'green'] as const) {
      const slot = await readPidFile(join(dataDir, 'agent', 'logs'), 's6b', color);
      if (slot && alive(slot.pid)) kill(slot.pid);
    }
  });
}

/** The pids of `cutover agent` processes serving `dataDir`, from /proc (what `pgrep -f "agent --data-dir D"` finds). */
async function agentPids(dataDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const at = args.indexOf('agent');
    if (at >= 0 && args[at + 1] === '--data-dir' && args[at + 2] === dataDir && alive(Number(entry)))
      found.push(Number(entry));
  }
  return found;
}

/**
 * `cutover up` in text mode (what a user sees): resolves with its output once it says it is up.
 */
async function startUpText(
  dataDir: string,
  args: string[],
): Promise<{ child: ChildProcess; text: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, ...args, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('`cutover up` did not start in 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`\`cutover up\` exited with ${code} before it was ready:\n${text}`));
    });
  });
  return {
    child,
    text,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `cutover up` to its end (a refused start) on the given ports, free ones for the rest. */
async function upOn(dataDir: string, given: Partial<Ports>): Promise<CliResult> {
  const port = async (key: keyof Ports) => String(given[key] ?? (await freePort()));
  const flags = ['--http-port', await port('http'), '--api-port', await port('api')];
  return cutover(dataDir, ['up', ...flags]);
}

/** One request on a fresh connection: the version that answered, or the status when it was not 200. */
function version(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/api/version', agent: false, headers: { host } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve(res.statusCode === 200 ? String(res.headers['x-app-version']) : `status ${res.statusCode}`),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('up after kill -9 reuses the live agent under load; a second up on the same ports is refused; SIGTERM leaves no process', async () => {
  const data = await tempDir('up-crash');
  cleanup.push(data.cleanup);
  const p = await ports();
  const P = [...portFlags(p)];
  const up1 = await startProcess(data.dir, ['up', ...P]);
  cleanup.push(up1.stop);
  assert.equal(up1.info.agent.reused, false);
  const agentPid = up1.info.agent.pid as number;
  stopAgentLater(agentPid, data.dir);
  assert.deepEqual(await agentPids(data.dir), [agentPid]);

  for (const v of ['1.0.0', '2.0.0', '2.1.0'])
    assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])).code, 0);
  assert.equal(
    (await cutover(data.dir, ['instance', 'create', 's6b', '--app', 'hello', '--host', 's6b.test'])).code,
    0,
  );
  for (const v of ['1.0.0', '2.0.0']) {
    const deployed = await cutover(data.dir, ['deploy', 's6b', v, '--wait']);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  }

  // Issue 10: another data directory, the same --http-port: refused, naming the port and the flag.
  const other = await tempDir('up-other');
  cleanup.push(other.cleanup);
  const refused = await upOn(other.dir, { http: p.http });
  assert.equal(refused.code, 4, refused.stdout + refused.stderr);
  assert.equal(refused.json.error.code, 'PORT_IN_USE');
  assert.match(refused.json.error.message, new RegExp(`router port .*:${p.http}\\b.*--http-port`));
  assert.deepEqual(await agentPids(other.dir), [], 'no agent left behind for the other data directory');
  // The same --api-port: refused too, before any agent starts for the other data directory.
  const apiTaken = await upOn(other.dir, { api: p.api });
  assert.equal(apiTaken.code, 4, apiTaken.stdout + apiTaken.stderr);
  assert.equal(apiTaken.json.error.code, 'PORT_IN_USE');
  assert.match(apiTaken.json.error.message, new RegExp(`API port .*:${p.api}\\b.*--api-port`));
  assert.deepEqual(await agentPids(other.dir), [], 'no agent started for the refused up');
  const answers = await Promise.all(Array.from({ length: 40 }, () => version(p.http, 's6b.test')));
  assert.deepEqual(answers, Array<string>(40).fill('2.0.0'), 'all 40 requests reach the first agent');

  // Load from before the crash to the end: the agent stays up throughout, so not one request may fail.
  const traffic = load(p.http, 's6b.test', 4);
  let stopped = false;
  cleanup.push(async () => void (stopped || (await traffic.stop())));
  await waitFor('load through the first agent', async () => traffic.result.ok > 20, 10_000);

  // The reproduction: kill -9 the `up` process (the server); its agent keeps serving.
  up1.child.kill('SIGKILL');
  await up1.stop();
  assert.ok(alive(agentPid), 'the agent survives its `up`');
  assert.equal(await version(p.http, 's6b.test'), '2.0.0');

  const moved = await upOn(data.dir, { api: p.api });
  assert.equal(moved.code, 4, moved.stdout + moved.stderr);
  assert.equal(moved.json.error.code, 'AGENT_RUNNING');
  assert.match(
    moved.json.error.message,
    new RegExp(`pid ${agentPid}\\b.*router port ${p.http}; run \`cutover up --http-port ${p.http}\``),
  );

  const up2 = await startUpText(data.dir, ['up', ...P]);
  cleanup.push(up2.stop);
  assert.match(
    up2.text,
    new RegExp(`reusing the agent \\(pid ${agentPid}\\) that still serves this data directory`),
    'up says it reuses the live agent',
  );
  assert.deepEqual(await agentPids(data.dir), [agentPid], 'exactly one agent serves the data directory');
  const third = await cutover(data.dir, ['up', ...P]);
  assert.equal(
    third.json?.error?.code,
    'PORT_IN_USE',
    'a third up while the second runs: its API port is taken',
  );
  assert.ok(alive(agentPid), 'a refused up leaves the agent it would have reused alone');

  const okBefore = traffic.result.ok;
  await waitFor('load through the reused agent', async () => traffic.result.ok > okBefore + 20, 10_000);
  assert.deepEqual(traffic.result.failed, [], 'zero failed requests through the crash and the restarts');
  const deployed = await cutover(data.dir, ['deploy', 's6b', '2.1.0', '--wait']);
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  const result = await traffic.stop();
  stopped = true;
  assert.deepEqual(result.failed, [], 'zero failed requests, the deploy of 2.1.0 included');
  const after200 = await Promise.all(Array.from({ length: 20 }, () => version(p.http, 's6b.test')));
  assert.deepEqual(after200, Array<string>(20).fill('2.1.0'), 'every new connection gets the new version');

  const logDir = join(data.dir, 'agent', 'logs');
  const slots = (
    await Promise.all((['blue', 'green'] as const).map((c) => readPidFile(logDir, 's6b', c)))
  ).flatMap((s) => (s ? [s.pid] : []));
  assert.equal(slots.length, 2, 'the live and the warm slot run');
  for (const pid of slots) killLater(pid);

  // SIGTERM on the second `up` (which reused an agent with slots): the server stops, then the
  // reused agent, a plain `cutover agent` process, gets SIGTERM from it: it drains (a slow request in flight is answered) and stops its slots.
  const slow = new Promise<string>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: p.http, path: '/slow?ms=1500', agent: false, headers: { host: 's6b.test' } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      },
    );
    req.on('error', reject);
    req.end();
  });
  await new Promise((r) => setTimeout(r, 300)); // the request reaches the app; the agent's drain takes it from there
  const exited = once(up2.child, 'exit');
  up2.child.kill('SIGTERM');
  const [code] = (await Promise.race([
    exited,
    new Promise((r) => setTimeout(() => r(['timeout']), 30_000).unref()),
  ])) as [unknown];
  assert.equal(code, 0, 'up exits cleanly');
  assert.match(
    await slow,
    /^200 .*"slept":1500/,
    'the request in flight was answered before the agent stopped',
  );
  assert.ok(!alive(agentPid), 'the reused agent is stopped');
  assert.deepEqual(await agentPids(data.dir), []);
  await waitFor('every slot process to be gone', async () => slots.every((pid) => !alive(pid)), 5000);
});

test('SIGHUP and Ctrl-C (SIGINT) on up stop the server and the agent it started', async () => {
  for (const signal of ['SIGHUP', 'SIGINT'] as const) {
    const data = await tempDir('up-signal');
    cleanup.push(data.cleanup);
    const p = await ports();
    const up = await startProcess(data.dir, [
      'up',
      ...portFlags(p),
    ]);
    cleanup.push(up.stop);
    const agentPid = up.info.agent.pid as number;
    killLater(agentPid);
    assert.deepEqual(await agentPids(data.dir), [agentPid]);
    const exited = once(up.child, 'exit');
    up.child.kill(signal);
    const [code] = (await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r(['timeout']), 30_000).unref()),
    ])) as [unknown];
    assert.equal(code, 0, `${signal}: up exits cleanly`);
    assert.deepEqual(await agentPids(data.dir), [], `${signal}: the agent is stopped`);
  }
});
