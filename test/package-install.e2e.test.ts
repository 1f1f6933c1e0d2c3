import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, cp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { alive, CONFIG_HOME, EXAMPLE, portFlags, ports, ROOT, tempDir } from './helpers.ts';

/**
 * Issue 16, "done when": the packed tarball installs with Node 20's npm into an empty prefix, and
 * the installed `cutover` (on the Node 24 its `node` dependency brought) runs `up`, publishes
 * examples/hello, deploys it and serves it through the router, with a PATH that holds no clone.
 */
const SYSTEM_NPM = '/usr/bin/npm'; // Node 20's npm on this machine and on CI

/** The environment of a fresh shell: no clone on PATH, no npm_* variables of the `npm test` that runs us. */
function cleanEnv(prefix: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['HOME', 'TMPDIR', 'LANG', 'CI', 'USER'])
    if (process.env[key] !== undefined) env[key] = process.env[key]!;
  env.PATH = `${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`;
  env.XDG_CONFIG_HOME = CONFIG_HOME;
  return env;
}

function run(file: string, args: string[], options: { env: Record<string, string>; cwd: string }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      file,
      args,
      { ...options, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}


test(
  'npm pack → npm install -g (Node 20 npm) → cutover up, publish, deploy, serve, stop',
  { timeout: 180_000 },
  async () => {
    const started = Date.now();
    const tmp = await tempDir('pkg');
    // As root, slots run as their instance's uid, which must pass through to the data directory
    // and the package's Node (slotPath): mkdtemp's 0700 would refuse every slot start.
    await chmod(tmp.dir, 0o711);
    const pids: number[] = [];
    try {
      // As root the agent runs each instance as its own uid, which must pass through to the data
      // directory inside (mkdtemp makes it 0700); the slot's CONFIG_INVALID says so otherwise.
      await chmod(tmp.dir, 0o711);
      // Pack as a release would: `npm pack` runs the prepack build (tsc → dist/).
      const systemPath = '/usr/local/bin:/usr/bin:/bin';
      const systemNode = (
        await run('node', ['--version'], { cwd: tmp.dir, env: { ...cleanEnv(tmp.dir), PATH: systemPath } })
      ).stdout.trim();
      assert.ok(
        !systemNode.startsWith('v24.'),
        `the system's npm runs on the system's Node (${systemNode}), not the clone's Node 24`,
      );
      const pack = await run(SYSTEM_NPM, ['pack', '--json', '--pack-destination', tmp.dir], {
        cwd: ROOT,
        env: { ...cleanEnv(tmp.dir), PATH: systemPath },
      });
      assert.equal(pack.code, 0, pack.stderr);
      const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as {
        filename: string;
        files: { path: string }[];
      }[];
      const files = packed!.files.map((f) => f.path);
      assert.ok(
        files.includes('bin/cutover') && files.includes('dist/cli/main.js'),
        'the bin and the built CLI ship',
      );
      for (const needed of [
        'dist/router/browser/cutover-version.js',
        'dist/store/sqlite/migrations/0001_init.sql',
        'dist/store/postgres/migrations/0001_init.sql',
        'docs/install.md',
      ]) {
        assert.ok(files.includes(needed), `${needed} ships`);
      }
      const unwanted = files.filter(
        (f) => /^(src|test|bench|examples)\/|\.test\.js$|fixtures\/|\.ts$/.test(f) && !f.endsWith('.d.ts'),
      );
      assert.deepEqual(unwanted, [], 'no sources, tests, fixtures or bench in the package');
      const packedAt = Date.now();

      // Install with the system's Node 20 npm into an empty prefix. The `node` dependency's install
      // script fetches the Node 24 binary package: from npm's cache (~/.npm, filled by `npm ci`).
      const prefix = join(tmp.dir, 'prefix');
      const env = cleanEnv(prefix);
      const install = await run(
        SYSTEM_NPM,
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          join(tmp.dir, packed!.filename),
        ],
        { cwd: tmp.dir, env: { ...env, PATH: systemPath } },
      );
      assert.equal(install.code, 0, install.stderr);
      const installedAt = Date.now();

      const version = await run('cutover', ['--version', '--json'], { cwd: tmp.dir, env });
      assert.equal(version.code, 0, version.stderr);
      const info = JSON.parse(version.stdout) as {
        version: string;
        node: string;
        nodePath: string;
        build: string;
        root: string;
      };
      assert.equal(info.build, 'package');
      assert.match(info.node, /^24\./, 'runs on the Node 24 the package brought');
      assert.ok(info.root.startsWith(prefix), `runs from the install (${info.root})`);
      assert.ok(!info.root.startsWith(ROOT), 'not from the clone');

      // `cutover up` from the installed package, on free ports, in its own data directory.
      const p = await ports();
      const data = join(tmp.dir, 'data');
      const up = spawn(
        'cutover',
        [
          '--json',
          '--data-dir',
          data,
          'up',
          ...portFlags(p),
        ],
        {
          cwd: tmp.dir,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      pids.push(up.pid!);
      let out = '';
      let err = '';
      up.stdout.on('data', (c: Buffer) => (out += c.toString()));
      up.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      let ready: { api: string; adminToken: string; agent: { pid: number } } | undefined;
      while (!ready) {
        try {
          ready = JSON.parse(out) as typeof ready;
        } catch {
          if (up.exitCode !== null || Date.now() > deadline)
            assert.fail(`cutover up did not start:\n${out}\n${err}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      pids.push(ready!.agent.pid);
      // The agent `up` started runs the package's built entry on the package's Node 24, with the agent's flags.
      const agentCmd = (await readFile(`/proc/${ready!.agent.pid}/cmdline`, 'utf8')).split('\0');
      assert.equal(agentCmd[0], info.nodePath, agentCmd.join(' '));
      assert.ok(
        agentCmd.includes('--max-semi-space-size=2') &&
          agentCmd.includes(join(info.root, 'dist/cli/main.js')),
        agentCmd.join(' '),
      );
      const cli = {
        cwd: tmp.dir,
        env: { ...env, CUTOVER_URL: ready!.api, CUTOVER_TOKEN: ready!.adminToken },
      };

      // The example app, copied so nothing is read from the clone.
      const app = join(tmp.dir, 'hello');
      await cp(EXAMPLE, app, { recursive: true });
      const publish = await run('cutover', ['release', 'publish', join(app, 'releases/1.0.0.yml')], cli);
      assert.equal(publish.code, 0, publish.stderr + publish.stdout);
      const create = await run(
        'cutover',
        [
          'instance',
          'create',
          'hello',
          '--app',
          'hello',
          '--host',
          'hello.localhost',
          '--environment',
          'production',
        ],
        cli,
      );
      assert.equal(create.code, 0, create.stderr + create.stdout);
      const deploy = await run('cutover', ['deploy', 'hello', '1.0.0', '--wait'], cli);
      assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);

      const res = await request(`http://127.0.0.1:${p.http}/`, { headers: { host: 'hello.localhost' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-app-version'], '1.0.0');
      assert.match(await res.body.text(), /1\.0\.0/);
      // The browser helper is served from the package (read beside the built router).
      const helper = await request(`http://127.0.0.1:${p.http}/.well-known/cutover/version.js`, {
        headers: { host: 'hello.localhost' },
      });
      assert.equal(helper.statusCode, 200);
      assert.match(await helper.body.text(), /cutover/i);

      const status = await run('cutover', ['--json', 'status', 'hello'], cli);
      const slotPids = (JSON.parse(status.stdout).runtime?.slots ?? [])
        .map((s: { pid?: number }) => s.pid)
        .filter(Boolean) as number[];
      pids.push(...slotPids);
      assert.equal(slotPids.length, 1, status.stdout);

      up.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      for (const pid of [ready!.agent.pid, ...slotPids]) assert.ok(!alive(pid), `pid ${pid} stopped with up`);
      assert.deepEqual(await readdir(join(prefix, 'bin')), ['cutover']);
      // The units it prints point at this install.
      const units = await run('cutover', ['--json', 'systemd-units'], { cwd: tmp.dir, env });
      assert.equal(units.code, 0, units.stderr);
      const agentUnit = (JSON.parse(units.stdout) as { units: Record<string, string> }).units[
        'cutover-agent.service'
      ]!;
      assert.ok(
        agentUnit.includes(
          `ExecReload=${join(info.root, 'bin/cutover')} --data-dir /var/lib/cutover agent --takeover --detach`,
        ),
        agentUnit,
      );
      console.log(
        `package install e2e (npm on Node ${systemNode}): pack ${((packedAt - started) / 1000).toFixed(1)} s, install ${((installedAt - packedAt) / 1000).toFixed(1)} s, ` +
          `up→deploy→stop ${((Date.now() - installedAt) / 1000).toFixed(1)} s, total ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await tmp.cleanup();
    }
  },
);
