import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createStateFile } from './agent-state.ts';
import type { AgentState } from './agent-state.ts';
import { deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import { waitFor } from '../testing/index.ts';
import type { TestAgent } from './test-agent.ts';

const version = (body: string) => (JSON.parse(body) as { version: string }).version;

test('preview and maintenance survive an agent restart; a shift does not', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.0' }, green: { version: '1.1.0' } });
    await t.client.flip('shop', 'blue');
    await t.client.shift('shop', 'green', 50);
    const token = 'survives-restart-0123456789';
    await t.client.setPreview('shop', token);
    await t.client.setMaintenance('shop', { html: 'maintenance page', retryAfterSeconds: 7 });
    await t.stop();

    t = await startTestAgent(data.dir);
    const described = await t.client.describe('shop');
    assert.equal(described?.preview, true);
    assert.equal(described?.maintenance, true);
    assert.equal(described?.shift, undefined, 'a restart puts everyone back on the active colour');
    const page = await get(t.agent.routerPort, 'shop.test');
    assert.equal(page.status, 503, 'maintenance is on from the first request');
    assert.equal(page.body, 'maintenance page');
    assert.equal(page.headers['retry-after'], '7');

    await t.client.setMaintenance('shop', null);
    const routerPort = t.agent.routerPort;
    await waitFor('blue to be restored', async () => (await get(routerPort, 'shop.test')).status === 200);
    assert.equal(version((await get(routerPort, 'shop.test')).body), '1.0.0');
    await waitFor('green to be restored', async () => (await t!.client.describe('shop'))?.slots.find((s) => s.color === 'green')?.state === 'healthy');
    assert.equal(version((await get(routerPort, 'shop.test', '/', { 'x-cutover-preview': token })).body), '1.1.0', 'the preview token still works');
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});

test('a corrupt instance entry in the state file is skipped, the others are restored', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    const agentDir = join(data.dir, 'agent');
    await mkdir(agentDir, { recursive: true });
    const file = createStateFile(join(agentDir, 'state'));
    const good = { hosts: ['good.test'], active: null, slots: {}, maintenance: { html: 'restored' } };
    await file.save({
      version: 1,
      instances: {
        good,
        garbage: 'not an instance',
        badPreview: { hosts: ['p.test'], active: null, slots: {}, preview: 'short' },
        badMaintenance: { hosts: ['m.test'], active: null, slots: {}, maintenance: { retryAfterSeconds: 'soon' } },
        badSlot: { hosts: ['s.test'], active: 'blue', slots: { blue: { version: 1 } } },
        badColor: { hosts: ['c.test'], active: 'red', slots: {} },
      },
    } as unknown as AgentState);
    await file.close();

    t = await startTestAgent(data.dir);
    assert.deepEqual(
      (await Promise.all(['good', 'garbage', 'badPreview', 'badMaintenance', 'badSlot', 'badColor'].map((n) => t!.client.describe(n)))).map((d) => d?.name),
      ['good', undefined, undefined, undefined, undefined, undefined],
    );
    const skipped = t.log.lines.filter((l) => l.level === 'error' && l.msg.includes('corrupt')).map((l) => l.obj.instance);
    assert.deepEqual(skipped.sort(), ['badColor', 'badMaintenance', 'badPreview', 'badSlot', 'garbage']);
    const page = await get(t.agent.routerPort, 'good.test');
    assert.equal(page.status, 503);
    assert.equal(page.body, 'restored', "the good entry's maintenance page is applied");
    assert.equal((await get(t.agent.routerPort, 'p.test')).status, 404, 'a skipped instance is not routed');
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});
