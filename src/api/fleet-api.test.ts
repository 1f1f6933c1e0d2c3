import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { startHarness } from './test-harness.ts';

test('fleet API: policy, plan at a time with a selector, why, holds, resume, tick', async () => {
  // Sunday 2026-11-22 12:00 UTC.
  const h = await startHarness(Date.parse('2026-11-22T12:00:00Z'));
  try {
    await h.release('1.0.0');
    for (const [name, environment] of [['a-test', 'test'], ['a-live', 'production']]) {
      const r = await h.call('deployer', 'POST', '/api/instances', { name, app: 'shop', hosts: [`${name}.t`], environment, target: { channel: 'stable' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const badPolicy = await h.call('admin', 'PATCH', '/api/fleet/policy', { policy: { windows: { production: 'nightly' } } });
    assert.equal(badPolicy.status, 400);
    assert.match(badPolicy.body.message, /windows\.production/);
    assert.equal((await h.call('deployer', 'PATCH', '/api/fleet/policy', { policy: { maxParallel: 3 } })).status, 403);
    const policy = await h.call('admin', 'PATCH', '/api/fleet/policy', { policy: { windows: { production: 'daily 02:00-04:00 Europe/London' } }, reason: 'nights only' });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    assert.equal(policy.body.windows.production, 'daily 02:00-04:00 Europe/London');
    assert.equal(policy.body.maxParallel, 10, 'unnamed fields keep their value');

    const unresolved = await h.call('viewer', 'GET', '/api/instances/a-live/why');
    assert.equal(unresolved.body.decision.kind, 'unresolved');
    assert.match(unresolved.body.why, /stable/);

    await h.call('admin', 'POST', '/api/channels/stable/promote', { version: '1.0.0', force: true, reason: 'first release' });
    const plan = await h.call('viewer', 'GET', '/api/fleet/plan?selector=environment%3Dproduction');
    assert.equal(plan.body.total, 1);
    const [live] = plan.body.entries;
    assert.equal(live.decision.kind, 'waiting-wave');
    const later = await h.call('viewer', 'GET', '/api/fleet/plan?at=2026-11-23T02:30:00Z');
    assert.equal(later.body.at, '2026-11-23T02:30:00.000Z');
    const test = later.body.entries.find((e: { instance: string }) => e.instance === 'a-test');
    assert.equal(test.decision.kind, 'upgrade');
    assert.equal(test.when, '2026-11-23T02:30:00.000Z');
    assert.equal((await h.call('viewer', 'GET', '/api/fleet/plan?at=soon')).status, 400);

    assert.equal((await h.call('viewer', 'PUT', '/api/instances/a-test/hold', { reason: 'x' })).status, 403);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/a-test/hold', { reason: '' })).status, 400);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/a-test/hold', { reason: 'audit', until: '2020-01-01T00:00:00Z' })).status, 400);
    const hold = await h.call('deployer', 'PUT', '/api/instances/a-test/hold', { reason: 'customer audit', until: '2026-12-01T00:00:00Z' });
    assert.equal(hold.status, 200, JSON.stringify(hold.body));
    assert.equal(hold.body.owner, 'a-deployer');
    assert.match((await h.call('viewer', 'GET', '/api/instances/a-test/why')).body.why, /held by a-deployer until/);
    assert.equal((await h.call('viewer', 'GET', '/api/holds')).body.items.length, 1);
    assert.equal((await h.call('deployer', 'POST', '/api/instances/a-test/unhold', {})).status, 200);
    assert.equal((await h.call('deployer', 'POST', '/api/instances/a-test/unhold', {})).body.code, 'HOLD_NOT_FOUND');

    assert.equal((await h.call('admin', 'POST', '/api/fleet/resume', { version: '1.0.0', reason: 'x' })).body.code, 'HALT_NOT_FOUND');
    assert.equal((await h.call('deployer', 'POST', '/api/fleet/tick')).status, 403);
    const tick = await h.call('admin', 'POST', '/api/fleet/tick');
    assert.equal(tick.body.leader, true);
    assert.deepEqual(tick.body.started.map((s: { instance: string }) => s.instance), ['a-test'], 'test is open all day (default anytime); production waits for the test wave');
    const shown = await h.call('viewer', 'GET', '/api/fleet');
    assert.equal(shown.body.lastTick.started.length, 1);
  } finally {
    await h.close();
  }
});

test('fleet API: maxParallelPerMachine, its old name with a warning, both at odds refused; capacity names the full machine', async () => {
  const h = await startHarness(Date.parse('2026-11-22T12:00:00Z'));
  try {
    const renamed = await h.call('admin', 'PATCH', '/api/fleet/policy', { policy: { maxParallelPerHost: 1 } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.maxParallelPerMachine, 1);
    assert.equal('maxParallelPerHost' in renamed.body, false);
    assert.equal(renamed.body.warnings.length, 1);
    assert.match(renamed.body.warnings[0], /`maxParallelPerHost` is deprecated.*`maxParallelPerMachine`/);
    assert.equal((await h.call('viewer', 'GET', '/api/fleet')).body.policy.maxParallelPerMachine, 1);

    const plain = await h.call('admin', 'PATCH', '/api/fleet/policy', { policy: { maxParallelPerMachine: 1 } });
    assert.equal(plain.status, 200);
    assert.equal('warnings' in plain.body, false, 'no warnings field without a deprecated key');

    const both = await h.call('admin', 'PATCH', '/api/fleet/policy', { policy: { maxParallelPerHost: 3, maxParallelPerMachine: 2, maxParallel: 9 } });
    assert.equal(both.status, 400);
    assert.equal(both.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(both.body.details.issues.map((i: { path: string }) => i.path), ['maxParallelPerHost', 'maxParallelPerMachine']);
    assert.equal((await h.call('viewer', 'GET', '/api/fleet')).body.policy.maxParallel, 10, 'a refused change changes nothing');

    // Two instances on one machine: one upgrades, the other waits for that machine.
    const token = await h.call('admin', 'POST', '/api/join-tokens', { expires: '1h' });
    const join = { token: token.body.token, name: 'web-1', labels: {}, agentVersion: '0.1.0', protocolVersion: PROTOCOL_VERSION };
    assert.equal((await h.call(null, 'POST', '/v1/machines/join', join)).status, 201);
    await h.release('1.0.0');
    for (const name of ['a', 'b']) {
      const r = await h.call('deployer', 'POST', '/api/instances', { name, app: 'shop', hosts: [`${name}.t`], environment: 'test', target: { version: '1.0.0' }, machines: ['web-1'] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const plan = await h.call('viewer', 'GET', '/api/fleet/plan');
    const b = plan.body.entries.find((e: { instance: string }) => e.instance === 'b');
    assert.deepEqual(b.decision, { kind: 'capacity', version: '1.0.0', limit: 'machine', machine: 'web-1' });
    assert.match(b.why, /machine web-1 already runs its limit of parallel upgrades/);
  } finally {
    await h.close();
  }
});
