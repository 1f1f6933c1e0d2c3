import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReleaseSpec } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';

// Review L7: slot ports answer on 127.0.0.1 without the router's checks; viewers do not get them.
test('slot ports are shown to deployers and admins, never to viewers', async () => {
  const h = await startHarness();
  try {
    await h.release('1.0.0', testReleaseSpec('1.0.0'));
    assert.equal(
      (await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'] }))
        .status,
      201,
    );
    const deployed = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', {
      version: '1.0.0',
    });
    assert.equal(deployed.body.status, 'succeeded', JSON.stringify(deployed.body));
    const id = deployed.body.id as string;
    const startDetail = (d: { steps: { name: string; detail?: Record<string, unknown> }[] }) =>
      d.steps.find((s) => s.name === 'start')?.detail;
    assert.equal(startDetail(deployed.body)?.port, 1, 'the deployer who started it sees the port');

    for (const role of ['deployer', 'admin'] as const) {
      const one = (await h.call(role, 'GET', '/api/instances/web')).body;
      assert.equal(one.runtime.slots[0].port, 1, role);
      assert.equal(startDetail(one.lastDeployment)?.port, 1, role);
    }
    const views = [
      (await h.call('viewer', 'GET', '/api/instances/web')).body,
      (await h.call('viewer', 'GET', '/api/status')).body.items[0],
    ];
    for (const view of views) {
      assert.equal(view.runtime.slots.length, 1);
      assert.equal(view.runtime.slots[0].state, 'healthy', 'the rest of the slot is shown');
      assert.ok(!('port' in view.runtime.slots[0]));
      assert.ok(startDetail(view.lastDeployment) && !('port' in startDetail(view.lastDeployment)!));
    }
    const listed = (await h.call('viewer', 'GET', '/api/instances/web/deployments')).body.items;
    const shown = (await h.call('viewer', 'GET', `/api/deployments/${id}`)).body;
    for (const d of [...listed, shown])
      assert.ok(!('port' in (startDetail(d) ?? {})), JSON.stringify(startDetail(d)));
    assert.ok(!JSON.stringify([views, listed, shown]).includes('"port"'));
  } finally {
    await h.close();
  }
});
