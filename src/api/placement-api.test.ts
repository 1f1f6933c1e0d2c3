import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { nextDesiredState } from '../control/index.ts';
import { testReleaseSpec } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

async function join(h: Harness, name: string): Promise<void> {
  h.clock.advance(1);
  const token = (await h.call('admin', 'POST', '/api/join-tokens', { expires: '1h' })).body.token as string;
  const joined = await h.call(null, 'POST', '/v1/machines/join', { token, name, labels: {}, agentVersion: '0.1.0', protocolVersion: PROTOCOL_VERSION });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
}

const create = (h: Harness, name: string, extra: object = {}, role: 'deployer' | 'admin' | 'viewer' = 'deployer') =>
  h.call(role, 'POST', '/api/instances', { name, app: 'shop', hosts: [`${name}.test`], ...extra });

async function withShop(): Promise<Harness> {
  const h = await startHarness();
  for (const v of ['1.0.0', '1.1.0']) await h.release(v, testReleaseSpec(v));
  return h;
}

test('placement: no machine is the local agent; one active machine takes every new instance; several need --machine', async () => {
  const h = await withShop();
  try {
    const local = await create(h, 'local');
    assert.equal(local.status, 201, JSON.stringify(local.body));
    assert.equal(local.body.machine, null, 'no machine joined: the local agent, as before');

    await join(h, 'web-1');
    const only = await create(h, 'only');
    assert.equal(only.body.machine, 'web-1');
    const [entry] = await h.store.listAudit({ action: 'instance.create', instance: 'only' });
    assert.equal((entry?.after as { machine: string }).machine, 'web-1', 'audited with its machine');

    await join(h, 'web-2');
    const ambiguous = await create(h, 'ambiguous');
    assert.equal(ambiguous.status, 422);
    assert.equal(ambiguous.body.code, 'MACHINE_REQUIRED');
    assert.match(ambiguous.body.message, /2 active machines \(web-1, web-2\).*--machine NAME/);
    assert.equal(await h.store.getInstance('ambiguous'), undefined, 'a refusal changes nothing');
    assert.equal((await create(h, 'chosen', { machine: 'web-2' })).body.machine, 'web-2');

    const unknown = await create(h, 'nowhere', { machine: 'web-9' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'MACHINE_NOT_FOUND');
    const badName = await create(h, 'bad', { machine: 'Web 1' });
    assert.equal(badName.status, 400);
    assert.match(JSON.stringify(badName.body), /machine/);

    assert.equal((await h.call('admin', 'POST', '/api/machines/web-2/drain')).status, 200);
    const drained = await create(h, 'late', { machine: 'web-2' });
    assert.equal(drained.status, 409);
    assert.equal(drained.body.code, 'MACHINE_NOT_ACTIVE');
    assert.match(drained.body.message, /"web-2" is draining and takes no new instances/);
    assert.equal((await create(h, 'after-drain')).body.machine, 'web-1', 'the draining machine no longer counts');

    assert.equal((await create(h, 'viewer-made', { machine: 'web-1' }, 'viewer')).status, 403);
    const shown = await h.call('viewer', 'GET', '/api/instances/chosen');
    assert.equal(shown.body.machine, 'web-2');
    const listed = await h.call('viewer', 'GET', '/api/instances');
    assert.deepEqual(Object.fromEntries(listed.body.items.map((i: { name: string; machine: string | null }) => [i.name, i.machine])), {
      'after-drain': 'web-1', chosen: 'web-2', local: null, only: 'web-1',
    });
  } finally {
    await h.close();
  }
});

test('instance update --machine: an undeployed instance moves (audited); a deployed one is refused and stays', async () => {
  const h = await withShop();
  try {
    await join(h, 'web-1');
    await join(h, 'web-2');
    assert.equal((await create(h, 'web', { machine: 'web-1' })).status, 201);
    assert.equal((await h.call('viewer', 'PATCH', '/api/instances/web', { machine: 'web-2' })).status, 403);
    const moved = await h.call('deployer', 'PATCH', '/api/instances/web', { machine: 'web-2', reason: 'new box' });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.machine, 'web-2');
    const [entry] = await h.store.listAudit({ action: 'instance.update', instance: 'web' });
    assert.deepEqual([(entry?.before as { machine: string }).machine, (entry?.after as { machine: string }).machine, entry?.reason], ['web-1', 'web-2', 'new box']);

    const d = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0' });
    assert.equal(d.body.status, 'succeeded', JSON.stringify(d.body));
    const refused = await h.call('admin', 'PATCH', '/api/instances/web', { machine: 'web-1' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'INSTANCE_MOVE_UNSUPPORTED');
    assert.match(refused.body.message, /runs 1\.0\.0 on web-2.*"Instances across machines"/);
    assert.equal((await h.store.getInstance('web'))!.machine, 'web-2');
    assert.equal((await h.call('deployer', 'PATCH', '/api/instances/web', { machine: 'web-2' })).status, 200, 'naming its own machine is no move');
  } finally {
    await h.close();
  }
});

test('machine list/show: instances and drift; machine remove is refused while instances are placed on it', async () => {
  const h = await withShop();
  try {
    await join(h, 'web-1');
    await join(h, 'web-2');
    for (const name of ['b', 'a']) assert.equal((await create(h, name, { machine: 'web-1' })).status, 201);
    const list = await h.call('viewer', 'GET', '/api/machines');
    assert.deepEqual(
      list.body.items.map((m: { name: string; instances: string[]; drift: { summary: string } }) => [m.name, m.instances, m.drift.summary]),
      [['web-1', ['a', 'b'], 'none'], ['web-2', [], 'none']],
    );
    const { number } = await nextDesiredState(h, 'web-1');
    const show = await h.call('viewer', 'GET', '/api/machines/web-1');
    assert.deepEqual(show.body.drift, { state: 'pending', number, ackedNumber: null, summary: `pending (${number}, acked none)` });

    const refused = await h.call('admin', 'DELETE', '/api/machines/web-1');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'MACHINE_IN_USE');
    assert.match(refused.body.message, /still has instances a, b/);
    assert.equal((await h.store.getMachine('web-1'))!.status, 'active', 'a refusal changes nothing');
    assert.equal((await h.store.listAudit({ action: 'machine.remove' })).length, 0);
    assert.equal((await h.call('admin', 'DELETE', '/api/machines/web-2')).status, 200, 'an empty machine is removed');
  } finally {
    await h.close();
  }
});
