import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { alive, cutover, portFlags, ports, ROOT, tempDir } from './helpers.ts';


/** `npm run demo` as a user runs it: it gets to 1.1.0 live, then Ctrl-C stops everything it started. */
test('the demo deploys 1.0.0 then 1.1.0, serves it, and stops cleanly on Ctrl-C', async () => {
  const data = await tempDir('demo');
  // mkdtemp makes it 0700; a checkout is usually traversable, and as root the slots (their own
  // uids) must pass through to ./.cutover (the agent refuses to start slots otherwise, naming it).
  await chmod(data.dir, 0o711);
  let kill = () => {};
  try {
    const p = await ports();
    const child = spawn(
      process.execPath,
      // As in the quick start: the default data directory (./.cutover), in the directory it runs in.
      [join(ROOT, 'src/cli/demo.ts'), ...portFlags(p)],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: data.dir, env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' } },
    );
    kill = () => child.kill('SIGKILL');
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('Press Ctrl-C')) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the demo did not get ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /hello 1\.1\.0 is live: open http:\/\/localhost:\d+\//);
    assert.match(out, /cutover rollback hello/);

    const res = await request(`http://127.0.0.1:${p.http}/`, { headers: { host: 'hello.localhost' } });
    assert.equal(res.headers['x-app-version'], '1.1.0');
    assert.match(await res.body.text(), /Hello again from 1\.1\.0/);

    // `./bin/cutover status hello` in the same directory needs no set-up step, and no credentials
    // are left in the data directory the slots run under.
    const plain = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(join(ROOT, 'bin/cutover'), ['status', 'hello'], { cwd: data.dir, env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' } }, (error, stdout) =>
        resolve({ code: error ? 1 : 0, stdout }),
      ),
    );
    assert.equal(plain.code, 0, plain.stdout);
    assert.match(plain.stdout, /1\.1\.0/);
    assert.ok(!(await readdir(join(data.dir, '.cutover'))).includes('cli.json'));
    const status = await cutover(join(data.dir, '.cutover'), ['status', 'hello']);
    assert.equal(status.json.currentVersion, '1.1.0');
    const pids = status.json.runtime.slots.map((s: { pid: number }) => s.pid).filter(Boolean) as number[];
    assert.equal(pids.length, 2, 'the live slot and the warm one run');

    child.kill('SIGINT');
    assert.equal(await exited, 0, out);
    assert.match(out, /stopped\./);
    assert.deepEqual(pids.filter(alive), [], 'no slot process outlives the demo');
  } finally {
    kill();
    await data.cleanup();
  }
});
