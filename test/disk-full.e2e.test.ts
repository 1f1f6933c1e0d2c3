import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { createSqliteStore } from '../src/store/index.ts';
import { startHarness } from '../src/api/test-harness.ts';
import { testReleaseSpec } from '../src/testing/index.ts';
import { captureLogger, deploy, get, startTestAgent } from '../src/agent/test-agent.ts';
import type { TestAgent } from '../src/agent/test-agent.ts';
import { waitFor } from '../src/testing/index.ts';
import { mountTmpfs } from './tmpfs.ts';

// L12: a full disk under the server's database and under the agent's state, on a 16 MiB tmpfs.

test("server: with the database's directory full, rollback fails as DISK_FULL naming it and changes nothing", async (t) => {
  const started = performance.now();
  const fs = await mountTmpfs(t);
  if (!fs) return;
  const h = await startHarness(Date.parse('2026-11-01T10:00:00Z'), { store: createSqliteStore(join(fs.dir, 'cutover.db')) });
  t.after(() => h.close());
  for (const v of ['1.0.0', '1.1.0']) await h.release(v, testReleaseSpec(v));
  assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'] })).status, 201);
  for (const version of ['1.0.0', '1.1.0']) {
    const d = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version });
    assert.equal(d.body.status, 'succeeded', JSON.stringify(d.body));
  }
  const before = await h.call('viewer', 'GET', '/api/instances/web');
  const deployments = (await h.call('viewer', 'GET', '/api/instances/web/deployments')).body.items.length;
  const audit = (await h.call('viewer', 'GET', '/api/audit')).body.items.length;

  await fs.fill();
  const refused = await h.call('deployer', 'POST', '/api/instances/web/rollback', { reason: 'disk full drill' });
  assert.equal(refused.status, 507, JSON.stringify(refused.body));
  assert.equal(refused.body.code, 'DISK_FULL');
  assert.ok(refused.body.message.includes(fs.dir), `the message names the directory: ${refused.body.message}`);

  const after = await h.call('viewer', 'GET', '/api/instances/web');
  assert.equal(after.body.currentVersion, '1.1.0');
  assert.equal(after.body.activeColor, before.body.activeColor);
  assert.equal(after.body.runtime.active, before.body.runtime.active, 'traffic did not move');
  assert.equal((await h.call('viewer', 'GET', '/api/instances/web/deployments')).body.items.length, deployments, 'no deployment recorded');
  assert.equal((await h.call('viewer', 'GET', '/api/audit')).body.items.length, audit, 'no audit entry');
  assert.equal(await h.store.getLock('web'), undefined, 'no lease left behind');

  await fs.free();
  const rolled = await h.call('deployer', 'POST', '/api/instances/web/rollback?wait=5000', { reason: 'space again' });
  assert.equal(rolled.body.status, 'succeeded', JSON.stringify(rolled.body));
  assert.equal((await h.call('viewer', 'GET', '/api/instances/web')).body.currentVersion, '1.0.0');
  console.log(`# server disk-full test took ${Math.round(performance.now() - started)} ms`);
});

/** The state file the next save writes: the one with the lower sequence number (see agent-state.ts). */
async function nextStateFile(agentDir: string): Promise<string> {
  const seqOf = async (f: string) => {
    const text = await readFile(join(agentDir, f), 'utf8').catch(() => '');
    return Number((JSON.parse(text.slice(0, text.indexOf('\n')) || '{"seq":0}') as { seq: number }).seq);
  };
  return (await seqOf('state.a')) < (await seqOf('state.b')) ? join(agentDir, 'state.a') : join(agentDir, 'state.b');
}

const version = (body: string) => (JSON.parse(body) as { version: string }).version;

test("agent: with its directory full, a flip still moves traffic and the state write is retried until it lands; a restart before that serves the previous route", async (t) => {
  const started = performance.now();
  const fs = await mountTmpfs(t);
  if (!fs) return;
  let current: TestAgent | undefined;
  t.after(async () => {
    await current?.stop();
  });
  const log = captureLogger();
  current = await startTestAgent(fs.dir, {}, { log, flags: { drainTimeout: '1s' } });
  const agentDir = join(fs.dir, 'agent');
  await deploy(current.client, 'shop', 'shop.test', { blue: { version: '1.0.0' }, green: { version: '1.1.0' } });
  await current.client.flip('shop', 'blue');
  assert.equal(version((await get(current.agent.routerPort, 'shop.test')).body), '1.0.0');

  // A state file rewritten in place needs no new blocks, so a full disk alone would not fail the
  // write; emptying the file the flip writes next makes it need them, as a state that grew does.
  const restartWithSlots = async () => {
    await current!.client.close();
    await current!.agent.handover(); // slots stay up, as across a crash; the pending write dies with it
    current = await startTestAgent(fs.dir, {}, { log, flags: { drainTimeout: '1s' } });
  };
  const flipOnFullDisk = async () => {
    await truncate(await nextStateFile(join(agentDir, 'private')), 0);
    await fs.fill();
    await current!.client.flip('shop', 'green');
    assert.equal(version((await get(current!.agent.routerPort, 'shop.test')).body), '1.1.0', 'the flip moved traffic');
    assert.ok(log.lines.some((l) => l.msg.includes('flipped although the agent state could not be written')));
  };

  await flipOnFullDisk();
  // Other changes are refused with the directory named (through the control API and client).
  await assert.rejects(current.client.setPreview('shop', 'preview-token-0123456789'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'DISK_FULL');
    assert.ok(e.message.includes(agentDir), e.message);
    return true;
  });
  await fs.free();
  await restartWithSlots();
  assert.equal((await current.client.describe('shop'))?.active, 'blue', 'a restart before the write landed serves the previous route');
  assert.equal(version((await get(current.agent.routerPort, 'shop.test')).body), '1.0.0');

  await flipOnFullDisk();
  await fs.free();
  await waitFor('the state write to land once there is space', async () => log.lines.some((l) => l.msg.includes('write landed after failing')), 10_000);
  await restartWithSlots();
  assert.equal((await current.client.describe('shop'))?.active, 'green', 'after the write landed, a restart keeps the flip');
  assert.equal(version((await get(current.agent.routerPort, 'shop.test')).body), '1.1.0');
  console.log(`# agent disk-full test took ${Math.round(performance.now() - started)} ms`);
});
