import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import { waitFor } from '../testing/index.ts';

test('a slot crash is logged as restarting, and its recovery as healthy again', async () => {
  const data = await tempDataDir();
  const t = await startTestAgent(data.dir);
  try {
    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.0' } });
    await t.client.flip('shop', 'blue');
    assert.equal((await get(t.agent.routerPort, 'shop.test', '/crash')).body, 'bye');
    // Sent while the only slot is down: held by the router until the restart, then served.
    await waitFor('the slot to be down', async () => (await t.client.describe('shop'))?.slots[0]?.state !== 'healthy');
    const held = await get(t.agent.routerPort, 'shop.test');
    assert.equal(held.status, 200, 'held through the restart, not a 502');

    await waitFor('the crash to be logged', () => t.log.lines.some((l) => l.obj.state === 'restarting'));
    const crash = t.log.lines.find((l) => l.obj.state === 'restarting')!;
    assert.equal(crash.level, 'warn');
    assert.match(crash.msg, /exit code 3/);
    assert.equal(crash.obj.instance, 'shop');
    assert.equal(crash.obj.color, 'blue');
    assert.equal(crash.obj.version, '1.0.0');
    assert.equal(crash.obj.exitCode, 3);
    assert.equal(crash.obj.restarts, 0, 'no restart has happened yet');
    assert.ok(!Number.isNaN(Date.parse(String(crash.obj.nextRestartAt))), 'when the restart comes');

    await waitFor('the recovery to be logged', () => t.log.lines.some((l) => l.msg === 'slot healthy again'));
    const recovered = t.log.lines.find((l) => l.msg === 'slot healthy again')!;
    assert.equal(recovered.level, 'info');
    assert.equal(recovered.obj.restarts, 1);
    assert.equal((await t.client.describe('shop'))?.slots[0]?.restarts, 1);
    assert.equal((await get(t.agent.routerPort, 'shop.test')).status, 200);
  } finally {
    await t.stop();
    await data.cleanup();
  }
});

test('while an old slot stops, what its drain endpoint reports is logged and described', async () => {
  const data = await tempDataDir();
  const t = await startTestAgent(data.dir);
  try {
    await deploy(t.client, 'shop', 'shop.test', {
      blue: { version: '1.0.0' },
      green: { version: '1.1.0', env: { DRAIN_JOBS: '3' }, drain: { path: '/drain', intervalMs: 100 } },
    });
    await t.client.flip('shop', 'blue');
    const stopping = t.client.stopSlot('shop', 'green');
    await waitFor('the drain to be described', async () => (await t.client.describe('shop'))?.slots.some((s) => s.drain?.pending !== undefined) ?? false);
    await stopping;
    const draining = t.log.lines.filter((l) => l.msg.startsWith('slot draining'));
    assert.ok(draining.length >= 1, 'at least one drain report logged');
    assert.match(draining[0]!.msg, /jobs still running/);
    assert.equal(draining[0]!.level, 'info');
    assert.equal(draining[0]!.obj.color, 'green');
  } finally {
    await t.stop();
    await data.cleanup();
  }
});
