import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { cutover, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * Health after the flip: a release that passed its health check and was flipped to starts failing
 * it while live (users still get normal answers, so the bake sees nothing). The supervisor marks
 * the active slot unhealthy; the server's health watcher reports it and flips back to the warm,
 * healthy slot (actor `health`), files a problem against the release and audits what it saw.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;

before(async () => {
  data = await tempDir('unhealthy');
  const p = await ports();
  http = p.http;
  // Only `up` (a child process) reads these. The bake stays on with its defaults: it must not
  // judge (too few requests) nor roll back a second time.
  Object.assign(process.env, { CUTOVER_BAKE_CHECK_INTERVAL: '200ms' });
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
});

async function version(): Promise<string> {
  const res = await request(`http://127.0.0.1:${http}/api/version`, { headers: { host: 'web.test' } });
  await res.body.text();
  return String(res.headers['x-app-version']);
}

test('an active slot that turns unhealthy after the flip is rolled back to the warm slot, with a problem and an audit entry', async () => {
  const sick = join(data.dir, 'sick');
  for (const [v, extra] of [
    ['1.0.0', ''],
    ['1.1.0', `env:\n  UNHEALTHY_FILE: "${sick}"\n`],
  ] as const) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v, extra)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait'])).json.status, 'succeeded');
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.1.0', '--wait'])).json.status, 'succeeded');
  assert.equal(await version(), '1.1.0');

  const traffic = load(http, 'web.test', 4);
  await writeFile(sick, ''); // from now on 1.1.0's /healthz answers 503
  await waitFor('the automatic rollback to 1.0.0', async () => (await version()) === '1.0.0', 15_000);
  const result = await traffic.stop();
  assert.deepEqual(result.failed, [], 'no request failed through the report and the flip');

  const problems = await cutover(data.dir, ['problem', 'list', '--version', '1.1.0']);
  const problem = problems.json.items.find((p: { source: string }) => p.source === 'health');
  assert.ok(problem, JSON.stringify(problems.json));
  assert.match(problem.title, /Rolled back automatically on web: the active slot was unhealthy/);

  const audit = await cutover(data.dir, ['audit', '--action', 'health.rollback']);
  assert.equal(audit.json.items.length, 1, JSON.stringify(audit.json));
  const [entry] = audit.json.items;
  assert.equal(entry.actor, 'health');
  assert.equal(entry.version, '1.1.0');
  assert.equal(entry.details.state, 'unhealthy');
  assert.equal(entry.details.other.version, '1.0.0');
  assert.equal(entry.details.other.state, 'healthy');
  assert.equal(entry.details.problem, problem.id);
  assert.equal((await cutover(data.dir, ['audit', '--action', 'slot.unhealthy'])).json.items.length, 1, 'reported once');
  const rollbacks = await cutover(data.dir, ['audit', '--instance', 'web', '--action', 'rollback.succeeded']);
  assert.deepEqual(
    rollbacks.json.items.map((e: { actor: string }) => e.actor),
    ['health'],
  );
  assert.equal((await cutover(data.dir, ['audit', '--action', 'bake.rollback'])).json.items.length, 0, 'the bake did not roll back as well');
  const status = await cutover(data.dir, ['status', 'web']);
  assert.equal(status.json.currentVersion ?? status.json.items?.[0]?.currentVersion, '1.0.0');
});
