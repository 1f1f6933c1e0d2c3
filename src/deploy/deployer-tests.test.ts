import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReleaseSpec, waitFor, testActor } from '../testing/index.ts';
import type { ReleaseProblem } from './step-runners.ts';
import { deployerTestbed } from './test-deployer.ts';

const TESTS = { smoke: { command: 'npm run smoke', timeoutMs: 60_000 }, verify: { command: 'npm run e2e', timeoutMs: 60_000 } };

/** `web` serving 1.0.0 on blue, and release 2.0.0 bringing smoke and verify tests. */
async function setup() {
  const problems: ReleaseProblem[] = [];
  const bed = await deployerTestbed({ fileProblem: async (_d, p) => void problems.push(p) });
  await bed.store.insertRelease({ app: 'shop', version: '2.0.0', digest: '2.0.0', spec: testReleaseSpec('2.0.0', { tests: TESTS }), createdAt: 1, createdBy: 'ci' });
  assert.equal((await bed.run(bed.deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }))).status, 'succeeded');
  bed.runtime.calls = [];
  bed.runtime.flipReasons = [];
  return { ...bed, problems };
}

test('smoke runs through a preview token before the flip, verify after it without one; both audited without their output', async () => {
  const { store, runtime, deployer, run } = await setup();
  runtime.testOutcome.set('smoke', { exitCode: 0, output: 'smoke ok' });
  const d = await run(deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') }));
  assert.equal(d.status, 'succeeded');
  assert.deepEqual(d.steps.map((s) => s.name), ['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise']);
  const order = runtime.calls.filter((c) => /^(preview|test|flip)/.test(c));
  assert.deepEqual(order, ['preview web on', 'test web smoke', 'preview web off', 'flip web green', 'test web verify']);
  const [smoke, verify] = runtime.tests;
  assert.ok(smoke!.previewToken.length >= 32, 'smoke gets a token of its own');
  assert.equal(verify!.previewToken, '', 'verify sees what users see');
  assert.equal(smoke!.digest, 'sha256:2.0.0');
  assert.equal(d.steps[3]!.detail?.output, 'smoke ok');
  const entries = (await store.listAudit({ subject: 'web' })).filter((e) => e.action === 'deploy.test').reverse();
  assert.deepEqual(entries.map((e) => e.details.kind), ['smoke', 'verify']);
  for (const e of entries) {
    assert.equal(e.details.exitCode, 0);
    assert.match(String(e.details.sha256), /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(e).includes('smoke ok'), 'the audit log never holds the output');
  }
});

test('a failing smoke test fails before the flip: no user reaches the new release, its slot stops', async () => {
  const { store, runtime, deployer, run, problems } = await setup();
  runtime.testOutcome.set('smoke', { exitCode: 2, output: 'expected 200, got 500' });
  const d = await run(deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') }));
  assert.equal(d.status, 'failed');
  assert.equal(d.error?.code, 'TEST_FAILED');
  assert.match(d.error!.message, /smoke test of 2\.0\.0 failed: it exited with code 2; 1\.0\.0 still serves/);
  assert.ok(!runtime.calls.some((c) => c.startsWith('flip')), 'never flipped');
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(runtime.calls.includes('stop web green'));
  assert.equal(d.steps.find((s) => s.name === 'smoke')?.detail?.output, 'expected 200, got 500');
  const web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.0.0');
  assert.equal(web.slots.green, null);
  assert.equal(problems.length, 0);
});

test('a failing verify test flips back to the warm slot at once, files a problem, and leaves the instance where it was', async () => {
  const { store, runtime, deployer, run, problems } = await setup();
  runtime.testOutcome.set('verify', { exitCode: 1, output: 'checkout broken' });
  const d = await run(deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') }));
  assert.equal(d.status, 'failed');
  assert.equal(d.error?.code, 'TEST_FAILED');
  assert.match(d.error!.message, /users are back on 1\.0\.0/);
  assert.deepEqual(runtime.calls.filter((c) => c.startsWith('flip')), ['flip web green', 'flip web blue']);
  assert.deepEqual(runtime.flipReasons, ['forward', 'rollback']);
  assert.equal(runtime.active('web'), 'blue');
  assert.deepEqual({ ...d.rollback, flippedAt: 0, tookMs: 0 }, { strategy: 'flip-to-warm', toVersion: '1.0.0', toColor: 'blue', flippedAt: 0, tookMs: 0 });
  const web = (await store.getInstance('web'))!;
  assert.deepEqual([web.currentVersion, web.activeColor, web.slots.green], ['1.0.0', 'blue', null]);
  assert.equal(web.slots.blue?.status, 'live');
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.title, /verify test failed on web/);
  assert.equal(problems[0]!.source, 'verify');
  const failed = (await store.listAudit({ subject: 'web' })).find((e) => e.action === 'deploy.failed')!;
  assert.deepEqual(failed.after, { version: '1.0.0', color: 'blue' });
  assert.equal((failed.details.rollback as { strategy: string }).strategy, 'flip-to-warm');
});

test('an abort during smoke kills the test; the old slot never stopped serving', async () => {
  const { runtime, deployer, run } = await setup();
  runtime.testOutcome.set('smoke', 'hang');
  const started = await deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') });
  await waitFor('the smoke test', () => runtime.tests.length === 1);
  await deployer.abort(started.id, testActor('ops', 'wrong build'));
  const d = await run(Promise.resolve(started));
  assert.equal(d.status, 'aborted');
  assert.ok(runtime.calls.includes('cancelTest web'));
  assert.ok(!runtime.calls.some((c) => c.startsWith('flip')));
  assert.equal(runtime.active('web'), 'blue');
});

test('an abort during verify kills it and rolls back to the warm slot; after verify an abort is refused', async () => {
  const { runtime, deployer, run } = await setup();
  runtime.testOutcome.set('verify', 'hang');
  const started = await deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin') });
  await waitFor('the verify test', () => runtime.tests.length === 2);
  await deployer.abort(started.id, testActor('ops'));
  const d = await run(Promise.resolve(started));
  assert.equal(d.status, 'aborted');
  assert.equal(d.rollback?.strategy, 'flip-to-warm');
  assert.ok(runtime.calls.includes('cancelTest web'));
  assert.equal(runtime.active('web'), 'blue');
  await assert.rejects(deployer.abort(started.id, testActor('ops')), { code: 'DEPLOYMENT_NOT_RUNNING' });
});

test('--skip-tests runs none and is recorded; a rollback to the warm slot runs none; --steps 0 runs smoke only', async () => {
  const { store, runtime, deployer, run } = await setup();
  const skipped = await run(deployer.deploy({ instance: 'web', version: '2.0.0', by: testActor('admin', 'hotfix'), skipTests: true }));
  assert.equal(skipped.status, 'succeeded');
  assert.equal(skipped.skipTests, true);
  assert.equal(runtime.tests.length, 0);
  const start = (await store.listAudit({ subject: 'web' })).find((e) => e.action === 'deploy.start')!;
  assert.equal(start.details.skipTests, true);
  assert.equal(start.reason, 'hotfix');
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('admin') }));
  assert.deepEqual(back.steps.map((s) => s.name), ['flip', 'finalise']);
  // 2.0.0 is warm now: a release not run yet starts a slot.
  await store.insertRelease({ app: 'shop', version: '2.1.0', digest: '2.1.0', spec: testReleaseSpec('2.1.0', { tests: TESTS }), createdAt: 1, createdBy: 'ci' });
  const rollout = { steps: [0], pauseMs: 0, analysis: false };
  const preview = await run(deployer.deploy({ instance: 'web', version: '2.1.0', by: testActor('admin'), rollout }));
  assert.deepEqual(preview.steps.map((s) => s.name), ['prepare', 'start', 'health', 'smoke', 'shift-0', 'flip', 'finalise']);
});
