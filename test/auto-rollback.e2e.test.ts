import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { cutover, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * The bake: a release that passes its health check but answers 500 to users after the flip is
 * rolled back to the warm slot by the analysis, a problem is filed against it, and the audit entry
 * carries the metric snapshot behind the decision.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;

before(async () => {
  data = await tempDir('bake');
  const p = await ports();
  http = p.http;
  // Only `up` (a child process) reads these: a short bake that judges after 20 requests.
  Object.assign(process.env, { CUTOVER_BAKE_WINDOW: '60s', CUTOVER_BAKE_CHECK_INTERVAL: '200ms', CUTOVER_BAKE_MIN_REQUESTS: '20' });
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
});

async function hit(n: number): Promise<{ versions: string[]; statuses: number[] }> {
  const versions: string[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(`http://127.0.0.1:${http}/`, { headers: { host: 'web.test' } });
    await res.body.text();
    statuses.push(res.statusCode);
    versions.push(String(res.headers['x-app-version']));
  }
  return { versions, statuses };
}

test('a release that answers 5xx after the flip is rolled back automatically, with a problem and an audited snapshot', async () => {
  for (const [v, extra] of [
    ['1.0.0', ''],
    ['1.1.0', 'env:\n  FAIL_REQUESTS: "1"\n'],
  ] as const) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v, extra)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait'])).json.status, 'succeeded');
  const healthy = await hit(40); // the baseline: the old colour's traffic before the flip
  assert.ok(healthy.statuses.every((s) => s === 200));

  const bad = await cutover(data.dir, ['deploy', 'web', '1.1.0', '--wait']);
  assert.equal(bad.json.status, 'succeeded', 'it passes its health check, so it is flipped');
  const after = await hit(30);
  assert.ok(after.statuses.includes(500), 'users see the broken release for a moment');

  // The analysis judges after 20 requests and flips back to the warm 1.0.0.
  await waitFor('the automatic rollback to 1.0.0', async () => (await hit(1)).versions[0] === '1.0.0', 15_000);
  const status = await cutover(data.dir, ['status', 'web']);
  assert.equal(status.json.currentVersion ?? status.json.items?.[0]?.currentVersion, '1.0.0');

  const problems = await cutover(data.dir, ['problem', 'list', '--version', '1.1.0']);
  const problem = problems.json.items.find((p: { source: string }) => p.source === 'analysis');
  assert.ok(problem, JSON.stringify(problems.json));
  assert.match(problem.title, /Rolled back automatically on web/);

  const audit = await cutover(data.dir, ['audit', '--action', 'bake.rollback']);
  assert.equal(audit.json.items.length, 1);
  const [entry] = audit.json.items;
  assert.equal(entry.actor, 'analysis');
  assert.equal(entry.version, '1.1.0');
  assert.equal(entry.details.verdict, 'fail');
  assert.ok(entry.details.snapshot.candidate.requests >= 20);
  assert.ok(entry.details.snapshot.candidate.errorRate > 0.05);
  assert.equal(entry.details.problem, problem.id);
  const rollbacks = await cutover(data.dir, ['audit', '--instance', 'web', '--action', 'rollback.succeeded']);
  assert.equal(rollbacks.json.items[0]?.actor, 'analysis');
  // The release is now blocked from stable by the open problem.
  const check = await cutover(data.dir, ['channel', 'check', '1.1.0', 'stable']);
  assert.equal(check.code, 8);
});
