import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

// One agent for the file: blue 1.0.0 active, green 1.1.0 idle and healthy.
let t: TestAgent;
let cleanup: () => Promise<void>;
const HOST = 'shop.test';
const version = (body: string) => (JSON.parse(body) as { version: string }).version;

before(async () => {
  const data = await tempDataDir();
  cleanup = data.cleanup;
  t = await startTestAgent(data.dir);
  await deploy(t.client, 'shop', HOST, { blue: { version: '1.0.0' }, green: { version: '1.1.0' } });
  await t.client.flip('shop', 'blue');
});
after(async () => {
  await t?.stop();
  await cleanup?.();
});

test('a shift sends its share of new clients to the new colour, and each client keeps its colour', async () => {
  await t.client.shift('shop', 'green', 30);
  assert.deepEqual((await t.client.describe('shop'))?.shift, { color: 'green', percent: 30 });
  assert.equal((await t.client.describe('shop'))?.active, 'blue', 'the active colour does not change');

  const answers = await Promise.all(Array.from({ length: 100 }, () => get(t.agent.routerPort, HOST)));
  const green = answers.filter((a) => version(a.body) === '1.1.0');
  assert.ok(answers.every((a) => a.status === 200));
  assert.ok(green.length >= 25 && green.length <= 35, `about 30 of 100 new clients get green, got ${green.length}`);

  for (const [first, expected] of [
    [green[0]!, '1.1.0'],
    [answers.find((a) => version(a.body) === '1.0.0')!, '1.0.0'],
  ] as const) {
    const cookie = String(first.headers['set-cookie']?.find((c) => c.startsWith('cutover_sticky_')) ?? '').split(';')[0]!;
    assert.ok(cookie, 'a shifted answer sets the sticky cookie');
    for (let i = 0; i < 10; i++) {
      assert.equal(version((await get(t.agent.routerPort, HOST, '/', { cookie })).body), expected, 'the client keeps its colour');
    }
  }

  await t.client.flip('shop', 'blue'); // ends the shift
  assert.equal((await t.client.describe('shop'))?.shift, undefined);
  assert.equal(version((await get(t.agent.routerPort, HOST)).body), '1.0.0');
});

test('a shift is refused for an empty, unhealthy or already active colour, and for a bad percent', async () => {
  await deploy(t.client, 'lone', 'lone.test', { blue: { version: '1.0.0' } });
  await t.client.flip('lone', 'blue');
  await assert.rejects(t.client.shift('lone', 'green', 10), { code: 'SLOT_NOT_FOUND' });
  await assert.rejects(t.client.shift('lone', 'blue', 10), { code: 'SLOT_ACTIVE' });
  await deploy(t.client, 'lone', 'lone.test', { green: { version: '2.0.0', env: { UNHEALTHY: '1' }, waitHealthy: false } });
  await assert.rejects(t.client.shift('lone', 'green', 10), { code: 'SLOT_NOT_READY' });
  for (const percent of [0, 100, 12.5]) {
    await assert.rejects(t.client.shift('shop', 'green', percent), { code: 'VALIDATION_FAILED' });
  }
  await assert.rejects(t.client.shift('nobody', 'green', 10), { code: 'INSTANCE_NOT_FOUND' });
  assert.equal(version((await get(t.agent.routerPort, 'lone.test')).body), '1.0.0', 'refusals change nothing');
});

test('the preview token reaches the idle colour; a wrong token does not', async () => {
  const token = 'preview-token-0123456789abcdef';
  await t.client.setPreview('shop', token);
  assert.equal((await t.client.describe('shop'))?.preview, true);
  const previewed = await get(t.agent.routerPort, HOST, '/', { 'x-cutover-preview': token });
  assert.equal(previewed.status, 200);
  assert.equal(version(previewed.body), '1.1.0', 'the token reaches green, the idle colour');
  assert.equal((await get(t.agent.routerPort, HOST, '/', { 'x-cutover-preview': `${token}x` })).status, 403);
  assert.equal(version((await get(t.agent.routerPort, HOST)).body), '1.0.0', 'everyone else stays on blue');

  await assert.rejects(t.client.setPreview('shop', 'short'), { code: 'VALIDATION_FAILED' });
  await t.client.setPreview('shop', null);
  assert.equal((await t.client.describe('shop'))?.preview, false);
  assert.equal((await get(t.agent.routerPort, HOST, '/', { 'x-cutover-preview': token })).status, 403, 'closed preview');
});

test('maintenance on answers 503 with the page; off serves again', async () => {
  await t.client.setMaintenance('shop', { html: '<h1>back soon</h1>', retryAfterSeconds: 120 });
  assert.equal((await t.client.describe('shop'))?.maintenance, true);
  const page = await get(t.agent.routerPort, HOST);
  assert.equal(page.status, 503);
  assert.equal(page.body, '<h1>back soon</h1>');
  assert.equal(page.headers['retry-after'], '120');
  await assert.rejects(t.client.setMaintenance('shop', { retryAfterSeconds: -1 }), { code: 'VALIDATION_FAILED' });

  await t.client.setMaintenance('shop', null);
  assert.equal((await t.client.describe('shop'))?.maintenance, false);
  const served = await get(t.agent.routerPort, HOST);
  assert.equal(served.status, 200);
  assert.equal(version(served.body), '1.0.0');
});

test('a flip with reason rollback reaches the router through the control API: the colour left is no skew target', async () => {
  await t.client.flip('shop', 'green'); // forward: blue's deployment id keeps blue during the grace
  const old = { 'x-deployment-id': 'd-blue-1.0.0' };
  assert.equal(version((await get(t.agent.routerPort, HOST, '/', old)).body), '1.0.0');
  await t.client.flip('shop', 'blue', undefined, 'rollback');
  const bad = await get(t.agent.routerPort, HOST, '/', { 'x-deployment-id': 'd-green-1.1.0' });
  assert.equal(version(bad.body), '1.0.0', 'the rolled-back colour is not served by its deployment id');
  assert.equal(bad.headers['x-cutover-reload'], '1');
});
