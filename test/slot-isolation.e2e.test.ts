import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, cp, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { ROOT, assertReachableByOthers, cutover, cutoverText, portFlags, ports, startProcess, tempDir, waitFor } from './helpers.ts';

/**
 * H1 and H2 of the security review, as a deployer would try them: hostile releases print the
 * credentials into their log, read the state and the database, signal the agent, join the router
 * and API ports with SO_REUSEPORT, and (as a second instance) reach into the first one. Run as
 * root, every attempt must fail, and the logs a viewer reads must hold no token.
 */
const isRoot = process.getuid?.() === 0;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

/** Every attempt's outcome, and the slot's own checks, from its log lines. */
function outcomes(lines: string[]) {
  const attempts = new Map<string, { ok: boolean; code?: string }>();
  const checks = new Map<string, unknown>();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as {
      attempt?: string;
      check?: string;
      ok?: boolean;
      code?: string;
      value?: unknown;
    };
    if (parsed.attempt !== undefined)
      attempts.set(parsed.attempt, { ok: parsed.ok === true, ...(parsed.code ? { code: parsed.code } : {}) });
    if (parsed.check !== undefined) checks.set(parsed.check, parsed.value);
  }
  return { attempts, checks };
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals | number = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

test(
  'hostile releases cannot read credentials, state or each other, signal anything, or join the ports',
  { timeout: 120_000 },
  async (t) => {
    if (!isRoot) {
      assert.notEqual(process.env.CI, 'true', 'CI runs as root: this test must not be skipped there');
      t.skip('slot uids need the agent to run as root');
      return;
    }
    const started = performance.now();
    // Slot uids run Node from this checkout.
    await assertReachableByOthers(process.execPath, 'slots run as their own uid');
    const tmp = await tempDir('isolation');
    cleanup.push(tmp.cleanup);
    // The temp dir is 0700: slot uids must be able to pass through it to the data directory.
    await chmod(tmp.dir, 0o711);
    const data = join(tmp.dir, 'data');
    const xdg = join(tmp.dir, 'xdg');
    await mkdir(data, { mode: 0o711 });
    await mkdir(xdg, { mode: 0o700 });
    const p = await ports();
    const base = 64_000 + (process.pid % 40) * 100; // a range of its own: other agents may run on this machine
    const extraEnv = { XDG_CONFIG_HOME: xdg, CUTOVER_SLOT_UID_RANGE: `${base}-${base + 99}` };
    const env = { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', ...extraEnv };

    // The usual umask: the modes of the database and credentials are the product's own doing.
    const upProcess = await startProcess(
      data,
      ['up', ...portFlags(p)],
      extraEnv,
    );
    const up = upProcess.child;
    const info = upProcess.info as { api: string; adminToken: string };
    const slotPids: number[] = [];
    const known = { agentPid: undefined as number | undefined };
    cleanup.push(async () => {
      await upProcess.stop();
      killQuietly(known.agentPid);
      for (const pid of slotPids) killQuietly(-pid);
    });
    // `up` answers once its server does; its agent writes its pid file and joins just after.
    const fileOf = async (name: string) => {
      await waitFor(`the agent's ${name}`, () => access(join(data, 'agent', 'private', name)).then(() => true, () => false), 15_000);
      return JSON.parse(await readFile(join(data, 'agent', 'private', name), 'utf8')) as unknown;
    };
    const agentPid = ((await fileOf('agent.pid')) as { pid: number }).pid;
    known.agentPid = agentPid;
    // The machine credential `up`'s agent got when it joined: the secret a slot would need to pose as its agent.
    const agentToken = ((await fileOf('machine.json')) as { credential: string }).credential;
    const as = (token: string) =>
      ({ ...env, CUTOVER_URL: info.api, CUTOVER_TOKEN: token }) as Record<string, string>;
    const admin = as(info.adminToken);
    const tokenFor = async (name: string, role: string): Promise<string> => {
      const r = await cutover(data, ['token', 'create', name, '--role', role], admin);
      assert.equal(r.code, 0, `token create ${name}: ${r.stdout}${r.stderr}`);
      return r.json.token as string;
    };
    const deployerToken = await tokenFor('dep1', 'deployer');
    const viewerToken = await tokenFor('viewer1', 'viewer');
    const deployer = as(deployerToken);
    const viewer = as(viewerToken);

    const app = join(tmp.dir, 'app');
    await cp(join(ROOT, 'test', 'fixtures', 'hostile'), app, { recursive: true });
    const common = {
      DATA_DIR: data,
      XDG_DIR: xdg,
      AGENT_PID: String(agentPid),
      SERVER_PID: String(up.pid),
      ROUTER_PORT: String(p.http),
      API_PORT: String(p.api),
    };
    /** Publishes and deploys a hostile release; its start command is H1's, word for word, then the attacks. */
    const deployHostile = async (name: string, extraEnv: Record<string, string>) => {
      const file = join(tmp.dir, `${name}.yml`);
      const start = `cat ../../../cli.json ../../../agent-token ../../../../cli.json ../../../../agent-token ../../../../private/agent-token; exec ${JSON.stringify(process.execPath)} attack.mjs`;
      const envYaml = Object.entries({ ...common, ...extraEnv })
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join('\n');
      await writeFile(
        file,
        `app: ${name}\nversion: 1.0.0\nartifact: ./app\nstart: ${JSON.stringify(start)}\nhealth: { path: /healthz, interval: 100ms }\ndeployTimeout: 30s\nenv:\n${envYaml}\n`,
      );
      for (const args of [
        ['release', 'publish', file],
        ['instance', 'create', name, '--app', name, '--host', `${name}.localhost`],
        ['deploy', name, '1.0.0', '--wait'],
      ]) {
        const r = await cutover(data, args, deployer);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      }
      const status = (await cutover(data, ['status', name], viewer)).json;
      assert.equal(status.runtime.isolation, 'uid', 'cutover status --json reports isolation: uid');
      const pids = (status.runtime.slots as { pid: number }[]).map((s) => s.pid);
      slotPids.push(...pids);
      return pids;
    };
    const logsOf = async (name: string) => {
      // The attacks run before the app listens, so they are all in the log once it is healthy.
      const r = await cutover(data, ['logs', name, '--tail', '2000'], viewer);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { line: string }).line);
    };

    const [aPid] = await deployHostile('hostile-a', { A_SECRET: 'a-secret-in-the-environment' });
    const aRelease = await readlink(`/proc/${aPid}/cwd`);
    const aState = join(data, 'agent', 'homes', 'hostile-a');
    const [bPid] = await deployHostile('hostile-b', {
      A_RELEASE_DIR: aRelease,
      A_STATE_DIR: aState,
      A_PIDS: String(aPid),
    });

    // The admin token is not in the data directory at all any more: only in the 0700 XDG directory.
    await assert.rejects(stat(join(data, 'cli.json')), { code: 'ENOENT' });
    const aLines = await logsOf('hostile-a');
    const bLines = await logsOf('hostile-b');
    const a = outcomes(aLines);
    const b = outcomes(bLines);
    for (const [who, seen] of [
      ['a', a],
      ['b', b],
    ] as const) {
      assert.equal(seen.checks.get('done'), true, `instance ${who} ran every attempt`);
      assert.ok(seen.attempts.size >= 36, `instance ${who} made ${seen.attempts.size} attempts`);
      const succeeded = [...seen.attempts].filter(([, o]) => o.ok).map(([name]) => name);
      assert.deepEqual(succeeded, [], `instance ${who}: these attempts succeeded`);
      for (const [name, o] of seen.attempts) {
        // Refused by permission, or by the port being the agent's: never "not found", which would
        // mean the test looked in the wrong place.
        const expected = name.startsWith('listen')
          ? ['EADDRINUSE'] // the test's ports are above 1024: only the agent's bind can refuse it
          : name.startsWith('signal')
            ? ['EPERM']
            : ['EACCES', 'EPERM'];
        assert.ok(
          expected.includes(o.code ?? ''),
          `instance ${who}: ${name} failed with ${o.code}, expected ${expected.join(' or ')}`,
        );
      }
      assert.equal(seen.checks.get('home is the state dir'), true);
      assert.equal(seen.checks.get('state dir writable'), true);
      assert.equal(seen.checks.get('own release readable'), true);
      assert.equal(seen.checks.get('groups'), '', 'no supplementary groups');
    }
    for (const name of [
      `read /proc/${aPid}/environ (instance A's slot)`,
      `signal instance A's slot (pid ${aPid})`,
    ]) {
      assert.ok(b.attempts.has(name), `instance b tried: ${name}`);
    }
    const uidA = Number(String(a.checks.get('uid')).split('\t')[0]);
    const uidB = Number(String(b.checks.get('uid')).split('\t')[0]);
    assert.ok(
      uidA >= base && uidA <= base + 99 && uidB >= base && uidB <= base + 99,
      `uids ${uidA}, ${uidB} from the range`,
    );
    assert.notEqual(uidA, uidB, 'each instance has its own uid');
    assert.equal(String(a.checks.get('gid')).split('\t')[0], String(uidA));

    // H1 as written: the cat in the start command printed nothing secret; no token in what a viewer reads.
    const everything = [...aLines, ...bLines].join('\n');
    for (const [what, secret] of [
      ['admin token', info.adminToken],
      ['machine credential', agentToken],
      ['deployer token', deployerToken],
    ] as const) {
      assert.ok(!everything.includes(secret), `the ${what} is in the slot logs`);
    }
    // H1 word for word: the old cli.json and agent-token are gone from the data directory, and so
    // is the agent token in private/ (agents dial the server now; nothing listens for it).
    assert.match(everything, /cat: \.\.\/\.\.\/\.\.\/\.\.\/cli\.json: No such file or directory/);
    assert.match(everything, /cat: \.\.\/\.\.\/\.\.\/\.\.\/agent-token: No such file or directory/);
    assert.match(everything, /cat: \.\.\/\.\.\/\.\.\/\.\.\/private\/agent-token: (Permission denied|No such file or directory)/);
    assert.doesNotMatch(everything, /a-secret-in-the-environment/);

    // The files as the agent laid them out.
    const st = async (path: string) => {
      const s = await stat(path);
      return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 };
    };
    assert.deepEqual(await st(aRelease), { uid: 0, gid: uidA, mode: 0o750 });
    assert.deepEqual(await st(join(aRelease, 'attack.mjs')), { uid: 0, gid: uidA, mode: 0o640 });
    assert.deepEqual(await st(aState), { uid: uidA, gid: uidA, mode: 0o700 });
    assert.equal((await st(join(data, 'agent'))).mode, 0o711);
    assert.equal((await st(join(data, 'agent', 'logs'))).mode, 0o700);
    for (const dir of ['private', 'agent/private']) assert.deepEqual(await st(join(data, dir)), { uid: 0, gid: 0, mode: 0o700 }, dir);
    // Nothing secret where an earlier layout kept it, in the directories slot uids pass through.
    for (const old of ['agent-token', 'agent.json', 'cutover.db', 'cutover.db-wal', 'agent/state.a', 'agent/state.b', 'agent/agent.pid'])
      await assert.rejects(stat(join(data, old)), { code: 'ENOENT' }, `${old} is not in a directory slots pass through`);

    // Both instances still serve, the agent and the server still run: nothing was signalled.
    const { stdout: text } = await cutoverText(data, ['status'], viewer);
    assert.match(text, /ISOLATION/);
    assert.match(text, /hostile-a .* uid\n/);
    for (const pid of [agentPid, up.pid!, aPid!, bPid!]) process.kill(pid, 0);
    const served = await new Promise<string>((resolve, reject) => {
      get(
        {
          host: '127.0.0.1',
          port: p.http,
          path: '/',
          agent: false,
          headers: { host: 'hostile-a.localhost' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        },
      ).on('error', reject);
    });
    assert.equal(served, 'hostile hostile-a\n', 'the router still serves instance A, not an impostor');
    t.diagnostic(`slot isolation e2e took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  },
);
