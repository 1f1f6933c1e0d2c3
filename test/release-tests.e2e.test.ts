import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutover, cutoverText, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';

/**
 * A release's tests as a user runs them, with `cutover up` and the example app's `smoke.mjs`,
 * under keep-alive load: a passing smoke test reaches the new release through the preview route
 * with its token (403 without it) and verify passes after the flip; a failing smoke test means no
 * user request ever reaches that release; a failing verify test flips back to the warm slot in
 * milliseconds and files a problem, the bake not involved. Zero failed requests throughout.
 */
const HOST = 'web.test';
const SMOKE = 'node smoke.mjs';

interface Step {
  name: string;
  status: string;
  detail?: Record<string, unknown>;
}
interface Deployment {
  id: string;
  status: string;
  toVersion: string;
  steps: Step[];
  error?: { code: string; message: string };
  rollback?: { strategy: string; toVersion: string; tookMs: number };
}

let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;
const started = performance.now();

before(async () => {
  data = await tempDir('release-tests');
  const p = await ports();
  http = p.http;
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
  console.log(`# release-tests e2e took ${Math.round(performance.now() - started)} ms`);
});

const tests = (smoke: string, verify: string) => `tests:\n  smoke:\n    command: ${smoke}\n    timeout: 30s\n  verify:\n    command: ${verify}\n    timeout: 30s\n`;

async function lastDeployment(): Promise<Deployment> {
  const r = await cutover(data.dir, ['history', 'web', '--limit', '1', '--json']);
  return (r.json as { items: Deployment[] }).items[0]!;
}

test('smoke before the flip, verify after it: passing, a failing smoke, a failing verify, under load with zero failed requests', async () => {
  const releases: [string, string][] = [
    ['1.0.0', ''],
    ['1.1.0', tests(SMOKE, SMOKE)],
    ['1.2.0', tests(`${SMOKE} && exit 1`, SMOKE)],
    ['1.3.0', tests(SMOKE, `"${SMOKE}; exit 3"`)],
  ];
  for (const [version, extra] of releases) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, version, extra)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', HOST])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait'])).json.status, 'succeeded');

  const traffic = load(http, HOST, 8);
  try {
    const passing = await cutoverText(data.dir, ['deploy', 'web', '1.1.0', '--wait']);
    assert.equal(passing.code, 0, passing.stderr);
    const ok = await lastDeployment();
    assert.deepEqual(ok.steps.map((s) => s.name), ['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise']);
    const smoke = ok.steps.find((s) => s.name === 'smoke')!.detail!;
    assert.match(String(smoke.output), /smoke: http:\/\/web\.test:\d+ answered 200 from 1\.1\.0/, 'the token reached the new release before the flip');
    assert.match(String(smoke.output), /without the token the preview answered 403/);
    assert.match(String(ok.steps.find((s) => s.name === 'verify')!.detail!.output), /verify: .* answered 200 from 1\.1\.0/);
    assert.match(passing.stderr + passing.stdout, /✓ smoke \d+ ms \(exit 0\)/, 'deploy --wait shows the test steps and their timings');

    const badSmoke = await cutover(data.dir, ['deploy', 'web', '1.2.0', '--wait']);
    assert.equal(badSmoke.code, 7, badSmoke.stderr);
    assert.match(badSmoke.stderr + JSON.stringify(badSmoke.json), /TEST_FAILED.*smoke test of 1\.2\.0 failed: it exited with code 1; 1\.1\.0 still serves/s);

    const badVerify = await cutoverText(data.dir, ['deploy', 'web', '1.3.0', '--wait']);
    assert.equal(badVerify.code, 7, badVerify.stderr);
    assert.match(badVerify.stderr, /↩ flipped back to 1\.1\.0/);
    const failed = await lastDeployment();
    assert.equal(failed.toVersion, '1.3.0');
    assert.equal(failed.error?.code, 'TEST_FAILED');
    assert.equal(failed.rollback?.strategy, 'flip-to-warm');
    assert.equal(failed.rollback?.toVersion, '1.1.0');
    // Verify ran after the flip: what users saw was 1.3.0, and then it failed.
    assert.match(String(failed.steps.find((s) => s.name === 'verify')!.detail!.output), /verify: .* answered 200 from 1\.3\.0/);
    assert.ok(failed.rollback!.tookMs < 1000, `the flip back took ${failed.rollback!.tookMs} ms`);
    assert.equal((await cutover(data.dir, ['status', 'web', '--json'])).json.currentVersion, '1.1.0');
  } finally {
    const result = await traffic.stop();
    assert.deepEqual(result.failed, [], 'zero failed requests');
    const versions = new Set(result.samples.map((s) => s.version));
    assert.ok(!versions.has('1.2.0'), 'no user request reached the release whose smoke test failed');
    assert.ok(versions.has('1.1.0'), `versions served: ${[...versions]}`);
  }

  const problems = await cutover(data.dir, ['problem', 'list', '--json']);
  const listed = JSON.stringify(problems.json);
  assert.match(listed, /1\.3\.0/);
  assert.match(listed, /verify test failed on web/);
  const verifyProblem = (problems.json.items as { title: string; source: string; reportedBy: string }[]).find((p) => /verify test failed/.test(p.title));
  assert.deepEqual([verifyProblem?.source, verifyProblem?.reportedBy], ['verify', 'verify'], 'the verify test, not the analysis, filed it');
  const audit = await cutover(data.dir, ['audit', '--instance', 'web', '--json']);
  const entries = audit.json.items as { action: string; details: Record<string, unknown> }[];
  assert.ok(!entries.some((e) => e.action === 'bake.rollback'), 'the bake did not trigger the rollback');
  const testEntries = entries.filter((e) => e.action === 'deploy.test');
  assert.equal(testEntries.length, 5, 'smoke+verify of 1.1.0, smoke of 1.2.0, smoke+verify of 1.3.0');
  for (const e of testEntries) {
    assert.match(String(e.details.sha256), /^[0-9a-f]{64}$/);
    assert.equal('output' in e.details, false, 'the audit log holds the hash, never the text');
  }
});
