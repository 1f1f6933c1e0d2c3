import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster } from '../src/testing/index.ts';
import type { TestCluster } from '../src/testing/index.ts';
import { cutover, freePort, manifest, startProcess, tempDir } from './helpers.ts';

/**
 * `cutover server --database postgres://…`: the same commands work on PostgreSQL, and what they
 * stored is there after a restart (tokens, releases, channels, targets, the audit chain).
 */
let cluster: TestCluster;
let data: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  cluster = await startTestCluster();
  data = await tempDir('pg-server');
});

after(async () => {
  await data?.cleanup();
  await cluster?.stop();
});

test('the server runs on PostgreSQL and keeps everything across a restart', async () => {
  const database = await cluster.createDatabase();
  const start = async () => startProcess(data.dir, ['server', '--api-port', String(await freePort()), '--database', database]);
  let server = await start();
  try {
    const published = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.0.0')]);
    assert.equal(published.code, 0, published.stdout + published.stderr);
    const created = await cutover(data.dir, ['instance', 'create', 'acme-test', '--app', 'hello', '--host', 'acme-test.example.test', '--environment', 'test', '--tenant', 'acme', '--target-channel', 'beta']);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const promoted = await cutover(data.dir, ['channel', 'promote', '1.0.0', 'beta', '--reason', 'first beta']);
    assert.equal(promoted.code, 0, promoted.stdout);
    const token = await cutover(data.dir, ['token', 'create', 'ci', '--role', 'deployer']);
    assert.equal(token.code, 0, token.stdout);
    const refused = await cutover(data.dir, ['channel', 'promote', '1.0.0', 'stable']);
    assert.equal(refused.code, 8, 'the policy refuses on PostgreSQL too');
  } finally {
    await server.stop();
  }

  server = await start();
  try {
    const shown = await cutover(data.dir, ['instance', 'show', 'acme-test']);
    assert.equal(shown.code, 0, shown.stdout);
    assert.deepEqual(shown.json.resolvedTarget, { kind: 'channel', channel: 'beta', version: '1.0.0', onTarget: false });
    const tokens = await cutover(data.dir, ['token', 'list']);
    assert.deepEqual(tokens.json.items.map((t: { name: string }) => t.name).sort(), ['admin', 'ci']);
    const audit = await cutover(data.dir, ['audit', '--release', '1.0.0']);
    assert.deepEqual(audit.json.items.map((e: { action: string }) => e.action), ['channel.promote', 'release.publish']);
    const verify = await cutover(data.dir, ['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stdout);
    assert.equal(verify.json.ok, true);
  } finally {
    await server.stop();
  }
});
