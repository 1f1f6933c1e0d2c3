import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, cutover, load, manifest, ports, ROOT, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * The systemd units `cutover systemd-units` writes (ADR 0016): `systemd-analyze verify` accepts
 * them, and their command lines, parsed from the unit files, do what systemd would run — ExecStart
 * starts the agent in the background and writes PIDFile; ExecReload, run against that agent under
 * keep-alive load, takes over with zero failed requests and leaves PIDFile naming the new agent;
 * SIGTERM to that main process (KillMode=process: what `systemctl stop` sends) stops it and its slots.
 */
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse())
    await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
});


/** The words of an `Exec*=` value as systemd splits them: double quotes, `\\`/`\"` escapes, `%%` and `$$`. */
export function execWords(value: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ') i++;
    if (i >= value.length) break;
    let word = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\') i++;
        word += value[i++];
      }
      i++;
    } else {
      while (i < value.length && value[i] !== ' ') word += value[i++];
    }
    words.push(word.replaceAll('%%', '%').replaceAll('$$', '$'));
  }
  return words;
}

/** The value of `key=` in a unit file (the one line that sets it). */
function setting(unit: string, key: string): string {
  const lines = unit.split('\n').filter((l) => l.startsWith(`${key}=`));
  assert.equal(lines.length, 1, `exactly one ${key}= line`);
  return lines[0]!.slice(key.length + 1);
}

/** Runs one command line as systemd's ExecStart/ExecReload would (stdin and stdout not kept) and returns its exit code. */
function runExec(words: string[]): Promise<number | null> {
  const child = spawn(words[0]!, words.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!hasAnalyze && process.env.CI === 'true') {
  // .ci/run installs Debian's systemd when systemd-analyze is missing: under CI this never skips.
  test('systemd-analyze is installed on CI', () =>
    assert.fail("systemd-analyze is missing: .ci/run should have installed Debian's systemd"));
}

test(
  'systemd units verify, and their ExecReload takes over a live agent under load with zero failed requests',
  {
    skip:
      !hasAnalyze && process.env.CI !== 'true' ? 'systemd-analyze is not installed (CI installs it)' : false,
  },
  async () => {
    const started = Date.now();
    const tmp = await tempDir('systemd');
    // mkdtemp makes it 0700: as root the slots run as their own uids and must pass through.
    await chmod(tmp.dir, 0o711);
    cleanup.push(tmp.cleanup);
    const data = join(tmp.dir, 'data');
    const p = await ports();
    const settings = join(tmp.dir, 'cutover.yml');
    await writeFile(
      settings,
      `httpPort: ${p.http}\napiPort: ${p.api}\nlogLevel: warn\n`,
    );
    const pidFile = join(tmp.dir, 'agent.pid');
    const unitDir = join(tmp.dir, 'units');

    const written = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        join(ROOT, 'bin/cutover'),
        [
          '--data-dir',
          data,
          'systemd-units',
          '--config',
          settings,
          '--pid-file',
          pidFile,
          '--write',
          unitDir,
        ],
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: stdout + stderr }),
      ),
    );
    assert.equal(written.code, 0, written.out);
    const agentFile = join(unitDir, 'cutover-agent.service');
    const serverFile = join(unitDir, 'cutover-server.service');
    const verify = spawnSync('systemd-analyze', ['verify', agentFile, serverFile], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'systemd-analyze verify has nothing to say about the units');

    const unit = await readFile(agentFile, 'utf8');
    assert.equal(setting(unit, 'Type'), 'forking');
    assert.equal(setting(unit, 'KillMode'), 'process');
    assert.equal(setting(unit, 'PIDFile'), pidFile);
    const start = execWords(setting(unit, 'ExecStart'));
    const reload = execWords(setting(unit, 'ExecReload'));
    assert.equal(start[0], join(ROOT, 'bin/cutover'));
    assert.ok(reload.includes('--takeover') && reload.includes(pidFile), setting(unit, 'ExecReload'));

    // ExecStart: returns once the agent serves, leaving it behind as the main process in PIDFile.
    assert.equal(await runExec(start), 0, 'ExecStart succeeds');
    const firstPid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(firstPid > 0 && alive(firstPid), 'PIDFile names the running agent');
    const cmdline = (await readFile(`/proc/${firstPid}/cmdline`, 'utf8')).split('\0');
    assert.ok(
      cmdline.includes('--max-semi-space-size=2'),
      `the agent runs with AGENT_NODE_FLAGS: ${cmdline.join(' ')}`,
    );
    let currentPid = firstPid;
    cleanup.push(async () => {
      for (const pid of new Set([firstPid, currentPid])) {
        if (!alive(pid)) continue;
        process.kill(pid, 'SIGTERM');
        await waitFor(`agent ${pid} to stop`, async () => !alive(pid), 30_000).catch(() =>
          process.kill(pid, 'SIGKILL'),
        );
      }
    });

    const server = await startProcess(data, ['server', '--config', settings]);
    cleanup.push(server.stop);
    assert.equal((await cutover(data, ['release', 'publish', await manifest(tmp.dir, '1.0.0')])).code, 0);
    assert.equal(
      (await cutover(data, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code,
      0,
    );
    const deployed = await cutover(data, ['deploy', 'web', '1.0.0', '--wait']);
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const status = await cutover(data, ['status', 'web']);
    const slotPids = (status.json.runtime.slots as { pid?: number }[])
      .map((s) => s.pid)
      .filter((pid): pid is number => pid !== undefined);
    assert.equal(slotPids.length, 1, JSON.stringify(status.json.runtime));

    const traffic = load(p.http, 'web.test', 16);
    let loadStopped = false;
    cleanup.push(async () => void (loadStopped || (await traffic.stop())));
    await waitFor('load to reach steady state', async () => traffic.result.ok > 100, 15_000);

    // ExecReload (`systemctl reload`): the takeover, then PIDFile names the new agent for systemd.
    assert.equal(await runExec(reload), 0, 'ExecReload succeeds');
    currentPid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.notEqual(currentPid, firstPid, 'PIDFile names a new agent');
    assert.ok(alive(currentPid), 'the new agent runs');
    await waitFor('the previous agent to exit after the handover', async () => !alive(firstPid), 10_000);
    const okBefore = traffic.result.ok;
    await waitFor('traffic through the new agent', async () => traffic.result.ok > okBefore + 100, 15_000);
    const result = await traffic.stop();
    loadStopped = true;
    assert.deepEqual(
      result.failed.slice(0, 5),
      [],
      `zero failed requests through the takeover (${result.ok} ok)`,
    );
    for (const pid of slotPids)
      assert.ok(alive(pid), `slot ${pid} kept running through the takeover (adopted)`);

    // `systemctl stop` with KillMode=process: SIGTERM to the main process only; the agent stops its slots itself.
    process.kill(currentPid, 'SIGTERM');
    await waitFor('the agent to stop on SIGTERM', async () => !alive(currentPid), 30_000);
    await waitFor('the agent to stop its slots', async () => slotPids.every((pid) => !alive(pid)), 15_000);
    console.log(
      `systemd units e2e: ${result.ok} requests through a takeover, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  },
);
