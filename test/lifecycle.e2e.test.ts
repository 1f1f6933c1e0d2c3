import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { alive, cutover, cutoverText, EXAMPLE, freePort, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * An instance's life past its first deploy, as an operator lives it: the slots' PATH comes from
 * the agent's settings, stored text prints escaped, hosts change, history reads back, prune keeps what a rollback needs and a
 * pruned release deploys again, and a delete drains, stops and forgets (issue 13).
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;
let metricsPort: number;
const METRICS_TOKEN = 'lifecycle-metrics-token-0123';
const began = Date.now();

before(async () => {
  data = await tempDir('lifecycle');
  // Keep one recent release besides the live and warm slots, so three releases show a prune.
  process.env.CUTOVER_PRUNE_KEEP_RELEASES = '1';
  const p = await ports();
  http = p.http;
  metricsPort = await freePort();
  // `up` passes --metrics-listen to its agent, and the token through the environment.
  up = await startProcess(data.dir, ['up', ...portFlags(p), '--metrics-listen', `127.0.0.1:${metricsPort}`], { CUTOVER_METRICS_TOKEN: METRICS_TOKEN });
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
  console.log(`lifecycle e2e: ${((Date.now() - began) / 1000).toFixed(1)} s`);
});

async function get(host: string): Promise<{ status: number; version?: string }> {
  const res = await request(`http://127.0.0.1:${http}/`, { headers: { host } });
  await res.body.dump();
  const version = res.headers['x-app-version'];
  return { status: res.statusCode, ...(typeof version === 'string' ? { version } : {}) };
}


/** A release of the example app with an artifact of its own (a marker file), so each has its own digest. */
async function release(version: string, extra: string): Promise<string> {
  const app = join(data.dir, `app-${version}`);
  await cp(join(EXAMPLE, 'app'), app, { recursive: true });
  await writeFile(join(app, 'RELEASE'), version);
  const file = join(data.dir, `${version}.yml`);
  await writeFile(file, `extends: ${join(EXAMPLE, 'cutover.yml')}\nversion: ${version}\nartifact: ${app}\n${extra}\n`);
  return file;
}

test('hosts change, history, prune and delete through the CLI; slots run on the agent Node', async () => {
  // Each release prints the PATH it got and the node it finds, then runs the app on it.
  const start = `start: sh -c 'echo "slot PATH=$PATH node=$(node --version)"; exec node server.js'`;
  const versions = ['1.0.0', '1.1.0', '1.2.0'];
  for (const v of versions) {
    const r = await cutover(data.dir, ['release', 'publish', await release(v, start)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  for (const v of versions) {
    const d = await cutover(data.dir, ['deploy', 'web', v, '--wait']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  }

  const logs = await cutover(data.dir, ['logs', 'web', '--tail', '50']);
  const line = logs.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { line: string }).line).find((l) => l.startsWith('slot PATH='));
  assert.ok(line, logs.stdout);
  assert.ok(line.startsWith(`slot PATH=${dirname(process.execPath)}:/usr/local/sbin:`), line);
  assert.ok(line.endsWith(`node=${process.version}`), `the slot's node is the agent's: ${line}`);

  const moved = await cutover(data.dir, ['instance', 'update', 'web', '--host', 'shop.test', '--reason', 'rename']);
  assert.equal(moved.code, 0, moved.stdout);
  assert.deepEqual(moved.json.hosts, ['shop.test']);
  assert.equal((await get('shop.test')).version, '1.2.0');
  assert.equal((await get('web.test')).status, 404, 'the old host no longer routes');
  const scraped = await request(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const metrics = await scraped.body.text();
  assert.equal(scraped.statusCode, 200, metrics);
  assert.match(metrics, /instance="web",color="(blue|green)",version="1\.2\.0"/, 'the agent of `up` serves its counters on --metrics-listen');

  const history = await cutover(data.dir, ['history', 'web', '--limit', '2']);
  assert.equal(history.code, 0);
  assert.deepEqual(history.json.items.map((d: { toVersion: string }) => d.toVersion), ['1.2.0', '1.1.0']);
  const all = await cutoverText(data.dir, ['history', 'web', '--all']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^STARTED +ID +KIND +VERSION +STRATEGY +STATUS/);
  assert.match(all.stdout, /1\.1\.0 → 1\.2\.0 +start-and-flip +succeeded/);
  assert.match(all.stdout, /- → 1\.0\.0/);

  const dry = await cutover(data.dir, ['prune', '--dry-run']);
  assert.equal(dry.code, 0, dry.stdout);
  assert.equal(dry.json.remove.length, 1, 'the oldest goes: 1.0.0 is neither live, warm nor the last release');
  assert.equal(dry.json.keep.length, 2);
  const artifacts = async () => (await readdir(join(data.dir, 'agent', 'artifacts'))).filter((f) => f.endsWith('.tgz')).length;
  assert.equal(await artifacts(), 3, 'a dry run removed nothing');
  const pruned = await cutover(data.dir, ['prune']);
  assert.equal(pruned.code, 0, pruned.stdout);
  assert.deepEqual(pruned.json.remove.map((r: { digest: string }) => r.digest), dry.json.remove.map((r: { digest: string }) => r.digest));
  assert.equal(await artifacts(), 2);
  const again = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(again.code, 0, `a pruned release deploys again: ${again.stdout}`);
  assert.equal((await get('shop.test')).version, '1.0.0');

  // L2: what the API stored is printed with its control characters escaped.
  const hostile = '\u001b[2J\u001b[31mPWNED\u001b]0;owned\u0007 title\r\nforged row';
  assert.equal((await cutover(data.dir, ['problem', 'report', '1.0.0', hostile])).code, 0);
  const problems = await cutoverText(data.dir, ['problem', 'list']);
  assert.equal(problems.code, 0, problems.stderr);
  assert.ok(![...problems.stdout].some((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c === '\u007f')), problems.stdout);
  assert.ok(problems.stdout.includes('\\x1b[2J\\x1b[31mPWNED\\x1b]0;owned\\x07 title\\r\\nforged row'), problems.stdout);
  assert.equal(problems.stdout.trimEnd().split('\n').length, 2, 'a header and one row');

  const status = await cutover(data.dir, ['status', 'web']);
  const pids = (status.json.runtime.slots as { pid?: number }[]).flatMap((s) => (s.pid ? [s.pid] : []));
  assert.ok(pids.length >= 1, JSON.stringify(status.json.runtime));
  const unconfirmed = await cutover(data.dir, ['instance', 'delete', 'web']);
  assert.equal(unconfirmed.code, 2, 'no terminal to confirm on: refused');
  assert.match(unconfirmed.json.error.message, /add --yes/);
  const deleted = await cutover(data.dir, ['instance', 'delete', 'web', '--yes', '--reason', 'e2e']);
  assert.equal(deleted.code, 0, deleted.stdout);
  assert.equal((await get('shop.test')).status, 404);
  await waitFor('the slots to stop', async () => pids.every((p) => !alive(p)), 15_000);
  assert.equal((await cutover(data.dir, ['status', 'web'])).code, 3);
  const audit = await cutover(data.dir, ['audit', '--instance', 'web']);
  assert.ok(audit.json.items.some((e: { action: string; reason: string }) => e.action === 'instance.delete' && e.reason === 'e2e'), audit.stdout);
});
