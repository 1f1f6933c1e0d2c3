import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildTestEnv, keptOutput, maskSecrets, runTestProcess, TEST_OUTPUT_BYTES } from './test-process.ts';
import { groupAlive } from './process-group.ts';

const BASE = { PATH: process.env.PATH, HOME: '/root', LANG: 'C.UTF-8', CUTOVER_TOKEN: 'cut_admin_secret', CUTOVER_URL: 'http://x', NODE_OPTIONS: '--inspect' };

async function dir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'cutover-test-process-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('maskSecrets replaces every secret, longest first, and leaves short values alone', () => {
  assert.equal(maskSecrets('token=abcdef123 and abcdef and abc', ['abcdef', 'abcdef123', 'abc']), 'token=<masked> and <masked> and abc');
});

test('keptOutput keeps the last bytes and masks a secret that straddles the cut', () => {
  const secret = 'S3CRET-VALUE';
  const text = `${'x'.repeat(100)}${secret}${'y'.repeat(5)}`;
  const kept = keptOutput([Buffer.from(text)], 10, [secret]);
  assert.equal(kept, 'sked>yyyyy');
  assert.ok(!kept.includes('VALUE'));
});

test('the test environment is the minimal inherited one plus exactly what is given: no Cutover credentials', () => {
  const env = buildTestEnv({ env: { CUTOVER_TEST_KIND: 'smoke', APP_VERSION: '1.2.0' }, home: '/state' }, BASE);
  assert.deepEqual(Object.keys(env).sort(), ['APP_VERSION', 'CUTOVER_TEST_KIND', 'HOME', 'LANG', 'PATH']);
  assert.equal(env.HOME, '/state');
});

test('a passing and a failing test: exit codes, the output kept with its SHA-256, secrets masked', async (t) => {
  const cwd = await dir(t);
  const pass = await runTestProcess(
    { command: 'echo "kind=$CUTOVER_TEST_KIND token=$CUTOVER_PREVIEW_TOKEN cli=${CUTOVER_TOKEN:-none}"; pwd', cwd, env: { CUTOVER_TEST_KIND: 'smoke', CUTOVER_PREVIEW_TOKEN: 'preview-token-123' }, timeoutMs: 30_000, secrets: ['preview-token-123'] },
    BASE,
  );
  assert.equal(pass.exitCode, 0);
  assert.equal(pass.output, `kind=smoke token=<masked> cli=none\n${cwd}\n`);
  assert.equal(pass.sha256, createHash('sha256').update(pass.output).digest('hex'));
  const fail = await runTestProcess({ command: 'echo broken >&2; exit 3', cwd, env: {}, timeoutMs: 30_000, secrets: [] }, BASE);
  assert.equal(fail.exitCode, 3);
  assert.equal(fail.output, 'broken\n');
  assert.equal(fail.timedOut, false);
});

test('only the last 64 KiB of a long output is kept', async (t) => {
  const cwd = await dir(t);
  const r = await runTestProcess({ command: `node -e "process.stdout.write('a'.repeat(200000) + 'END')"`, cwd, env: {}, timeoutMs: 30_000, secrets: [] }, BASE);
  assert.equal(r.exitCode, 0);
  assert.equal(r.outputBytes, 200_003);
  assert.equal(Buffer.byteLength(r.output), TEST_OUTPUT_BYTES);
  assert.ok(r.output.endsWith('aEND'));
});

test('a timeout kills the whole process group, children included', async (t) => {
  const cwd = await dir(t);
  const r = await runTestProcess({ command: 'echo $$ > pid; sleep 300 & echo started; wait', cwd, env: {}, timeoutMs: 1000, secrets: [] }, BASE);
  assert.equal(r.timedOut, true);
  assert.equal(r.exitCode, null);
  assert.equal(r.signal, 'SIGKILL');
  assert.match(r.output, /started/);
  const { readFile } = await import('node:fs/promises');
  // The shell led the group: nothing of it runs any more, the background sleep included.
  assert.equal(await groupAlive(Number(await readFile(path.join(cwd, 'pid'), 'utf8'))), false);
});

test('an abort kills the test at once', async (t) => {
  const cwd = await dir(t);
  const controller = new AbortController();
  const run = runTestProcess({ command: 'echo $$ > pid; sleep 300', cwd, env: {}, timeoutMs: 600_000, secrets: [], signal: controller.signal }, BASE);
  const { readFile } = await import('node:fs/promises');
  const deadline = Date.now() + 20_000;
  let pid = 0;
  while (!pid && Date.now() < deadline) {
    pid = Number(await readFile(path.join(cwd, 'pid'), 'utf8').catch(() => '0'));
    if (!pid) await new Promise((r) => setTimeout(r, 20));
  }
  controller.abort();
  const r = await run;
  assert.equal(r.cancelled, true);
  assert.equal(await groupAlive(pid), false);
});

test('as root, the test runs as the slot user it is given', async (t) => {
  if (process.getuid?.() !== 0) {
    assert.ok(process.env.CI !== 'true', 'CI runs as root: this test must not be skipped there');
    t.skip('needs root');
    return;
  }
  const cwd = await dir(t);
  const r = await runTestProcess({ command: 'id -u; id -G', cwd, env: {}, user: { uid: 65534, gid: 65534 }, timeoutMs: 30_000, secrets: [] }, BASE);
  assert.equal(r.output, '65534\n65534\n');
});
