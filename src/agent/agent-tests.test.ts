import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deploy, packFixtureApp, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';
import { previewUrl } from './test-runner.ts';

const TOKEN = 'preview-token-for-the-smoke-test';

test('previewUrl is the router with the instance host, the port left out when it is 80', () => {
  assert.equal(previewUrl(['web.test', 'www.test'], 8080), 'http://web.test:8080');
  assert.equal(previewUrl(['web.test'], 80), 'http://web.test');
});

test("a release's test runs from the instance's copy with exactly its variables, reaches the idle slot with the token, and is killed by cancel", async (t) => {
  const data = await tempDataDir();
  let agent: TestAgent | undefined;
  try {
    // A uid range of this test process's own: other agents may run on this machine at the same time.
    const base = 67_000 + (process.pid % 40) * 20;
    agent = await startTestAgent(data.dir, {}, { flags: { slotUidRange: `${base}-${base + 19}` } });
    await deploy(agent.client, 'web', 'web.test', { blue: { version: '1.0.0' }, green: { version: '1.1.0', env: { API_KEY: 'not-for-tests' } } });
    await agent.client.flip('web', 'blue');
    await agent.client.setPreview('web', TOKEN);
    const { digest } = await packFixtureApp();
    const spec = { instance: 'web', kind: 'smoke' as const, command: `${JSON.stringify(process.execPath)} probe.mjs`, timeoutMs: 30_000, digest, version: '1.1.0', deploymentId: 'd1', previewToken: TOKEN };
    const r = await agent.client.runTest(spec);
    assert.equal(r.passed, true, r.output);
    assert.equal(r.previewUrl, `http://web.test:${agent.agent.routerPort}`);
    const lines = r.output.split('\n');
    const names = lines.find((l) => l.startsWith('env '))!.slice(4).split(',');
    for (const name of ['CUTOVER_PREVIEW_URL', 'CUTOVER_PREVIEW_TOKEN', 'CUTOVER_TEST_KIND', 'APP_VERSION']) assert.ok(names.includes(name), name);
    // PWD: /bin/sh sets it.
    for (const name of names) assert.match(name, /^(PWD|CUTOVER_PREVIEW_URL|CUTOVER_PREVIEW_TOKEN|CUTOVER_TEST_KIND|APP_VERSION|PATH|HOME|LANG|TZ|USER|SHELL)$/);
    assert.ok(lines.includes('token <masked>'), 'the preview token is masked in the output kept');
    assert.ok(lines.includes('saw 200 1.1.0'), 'the token reaches the idle slot through the router');
    assert.ok(r.output.includes(join('releases', 'web', digest.replace(':', '-'))), "it runs in the instance's copy of the artifact");
    // As root, the instance's slot uid (the first of the range), like its slots.
    if (process.getuid?.() === 0) assert.ok(lines.some((l) => l.startsWith(`uid ${base} `)), r.output);
    else assert.notEqual(process.env.CI, 'true', 'CI runs as root');

    // Without the token the idle slot is not reached: the test fails, and says why.
    // (Another deployment id: a call with the same key is a replay, answered from what the agent remembers.)
    const denied = await agent.client.runTest({ ...spec, previewToken: '', deploymentId: 'd2' });
    assert.equal(denied.passed, false);
    assert.match(denied.output, /saw 200 1\.0\.0/);

    // A test that echoes a slot's config value (a secret, issue 20): the output kept has it masked.
    const echoed = await agent.client.runTest({ ...spec, command: 'echo "the key is not-for-tests"', deploymentId: 'd4' });
    assert.equal(echoed.passed, true, echoed.output);
    assert.ok(!echoed.output.includes('not-for-tests') && echoed.output.includes('the key is <masked>'), echoed.output);

    const hanging = agent.client.runTest({ ...spec, command: 'sleep 300', timeoutMs: 600_000, deploymentId: 'd3' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await agent.client.cancelTest('web');
    const cancelled = await hanging;
    assert.equal(cancelled.cancelled, true);
    assert.equal(cancelled.passed, false);
  } finally {
    await agent?.stop();
    await data.cleanup();
  }
  t.diagnostic('ok');
});
