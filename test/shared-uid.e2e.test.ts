import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, assertReachableByOthers, cutover, cutoverText, manifest, portFlags, ports, tempDir } from './helpers.ts';

/**
 * An agent that is not root (a laptop, `npm run demo`) cannot give slots their own uid: it says
 * so at start, reports `isolation: none`, and refuses a router other machines reach unless told
 * `--allow-shared-uid`. Run as nobody (65534) with setpriv, from root.
 */
const NOBODY = 65534;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

/** Runs the CLI as nobody with no supplementary groups. Resolves once it printed its JSON (or exited). */
function asNobody(args: string[], env: Record<string, string>) {
  const child = spawn(
    'setpriv',
    [
      '--reuid',
      String(NOBODY),
      '--regid',
      String(NOBODY),
      '--clear-groups',
      process.execPath,
      CLI,
      '--json',
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<unknown>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      try {
        resolve(JSON.parse(stdout));
      } catch {
        // not complete yet
      }
    });
    void exited.then(() => resolve(undefined));
  });
  return {
    child,
    ready,
    exited,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

test(
  'not root: a warning, isolation none, and a public router only with --allow-shared-uid',
  { timeout: 120_000 },
  async (t) => {
    if (process.getuid?.() !== 0) {
      assert.notEqual(process.env.CI, 'true', 'CI runs as root: this test must not be skipped there');
      t.skip('needs root to become another user with setpriv');
      return;
    }
    const started = performance.now();
    // nobody runs Node and the CLI from this checkout: every directory above them must let it through.
    for (const file of [process.execPath, CLI]) await assertReachableByOthers(file, 'nobody runs');
    const tmp = await tempDir('shared-uid');
    cleanup.push(tmp.cleanup);
    const data = join(tmp.dir, 'data');
    const xdg = join(tmp.dir, 'xdg');
    for (const dir of [data, xdg]) {
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, NOBODY, NOBODY);
    }
    await chown(tmp.dir, NOBODY, NOBODY);
    const env = { XDG_CONFIG_HOME: xdg, HOME: xdg };
    const p = await ports();

    const refused = asNobody(
      [
        '--data-dir',
        data,
        'agent',
        '--http-host',
        '0.0.0.0',
        '--http-port',
        String(p.http),
      ],
      env,
    );
    cleanup.push(refused.stop);
    assert.notEqual(await refused.exited, 0, 'the agent refuses to start');
    const answer = (await refused.ready) as { error: { code: string; message: string } };
    assert.equal(answer.error.code, 'CONFIG_INVALID');
    assert.match(answer.error.message, /--allow-shared-uid/);
    assert.match(answer.error.message, /0\.0\.0\.0/);

    const up = asNobody(
      [
        '--data-dir',
        data,
        'up',
        '--http-host',
        '0.0.0.0',
        '--allow-shared-uid',
        ...portFlags(p),
        '--log-level',
        'warn',
      ],
      env,
    );
    cleanup.push(up.stop);
    const info = (await up.ready) as { api: string; adminToken: string } | undefined;
    assert.ok(info?.adminToken, `cutover up started as nobody: ${up.stderr()}`);
    assert.match(up.stderr(), /the agent is not root: slots run as its own user/);

    const admin = { CUTOVER_URL: info.api, CUTOVER_TOKEN: info.adminToken };
    for (const args of [
      ['release', 'publish', await manifest(tmp.dir, '1.0.0')],
      ['instance', 'create', 'laptop', '--app', 'hello', '--host', 'laptop.localhost'],
      ['deploy', 'laptop', '1.0.0', '--wait'],
    ]) {
      const r = await cutover(data, args, admin);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const status = await cutover(data, ['status', 'laptop'], admin);
    assert.equal(status.json.runtime.isolation, 'none');
    const pid = (status.json.runtime.slots as { pid: number }[])[0]!.pid;
    assert.match(
      await readFile(`/proc/${pid}/status`, 'utf8'),
      new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'),
      "the slot runs as the agent's uid",
    );
    const { stdout: text } = await cutoverText(data, ['status'], admin);
    assert.match(text, /ISOLATION\n.*laptop .* none\n/s);
    t.diagnostic(`shared-uid e2e took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  },
);
