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

const machinesOf = (body: { placement: { machines?: string[]; selector?: string } | null }) => body.placement?.machines ?? body.placement?.selector ?? null;

test('placement: no machine is none; one active machine takes every new instance; several need --machine or --machine-selector', async () => {
  const h = await withShop();
  try {
    const local = await create(h, 'local');
    assert.equal(local.status, 201, JSON.stringify(local.body));
    assert.equal(local.body.placement, null, 'no machine joined: no placement, as before');

    await join(h, 'web-1');
    const only = await create(h, 'only');
    assert.deepEqual(only.body.placement, { machines: ['web-1'] });
    const [entry] = await h.store.listAudit({ action: 'instance.create', instance: 'only' });
    assert.deepEqual((entry?.after as { placement: unknown }).placement, { machines: ['web-1'] }, 'audited with its placement');

    await join(h, 'web-2');
    const ambiguous = await create(h, 'ambiguous');
    assert.equal(ambiguous.status, 422);
    assert.equal(ambiguous.body.code, 'MACHINE_REQUIRED');
    assert.match(ambiguous.body.message, /2 active machines \(web-1, web-2\).*--machine NAME \(repeatable\) or --machine-selector/);
    assert.equal(await h.store.getInstance('ambiguous'), undefined, 'a refusal changes nothing');
    assert.deepEqual(machinesOf((await create(h, 'chosen', { machines: ['web-2'] })).body), ['web-2']);
    assert.deepEqual(machinesOf((await create(h, 'both', { machines: ['web-2', 'web-1'] })).body), ['web-1', 'web-2']);
    assert.equal(machinesOf((await create(h, 'labelled', { machineSelector: 'role=web' })).body), 'role=web');
    const twoWays = await create(h, 'two-ways', { machines: ['web-1'], machineSelector: 'role=web' });
    assert.equal(twoWays.status, 400);
    const badSelector = await create(h, 'bad-selector', { machineSelector: 'role' });
    assert.equal(badSelector.status, 400);
    assert.match(badSelector.body.message, /has no "=" or "!="/);

    const unknown = await create(h, 'nowhere', { machines: ['web-1', 'web-9'] });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'MACHINE_NOT_FOUND');
    const badName = await create(h, 'bad', { machines: ['Web 1'] });
    assert.equal(badName.status, 400);
    assert.match(JSON.stringify(badName.body), /machine/);

    assert.equal((await h.call('admin', 'POST', '/api/machines/web-2/drain')).status, 200);
    const drained = await create(h, 'late', { machines: ['web-2'] });
    assert.equal(drained.status, 409);
    assert.equal(drained.body.code, 'MACHINE_NOT_ACTIVE');
    assert.match(drained.body.message, /"web-2" is draining and takes no new instances/);
    assert.deepEqual(machinesOf((await create(h, 'after-drain')).body), ['web-1'], 'the draining machine no longer counts');

    assert.equal((await create(h, 'viewer-made', { machines: ['web-1'] }, 'viewer')).status, 403);
    const shown = await h.call('viewer', 'GET', '/api/instances/chosen');
    assert.deepEqual(shown.body.placement, { machines: ['web-2'] });
  } finally {
    await h.close();
  }
});

test('instance update --machine / --machine-selector: changes the placement (audited), deployed or not; never onto no active machine', async () => {
  const h = await withShop();
  try {
    await join(h, 'web-1');
    await join(h, 'web-2');
    assert.equal((await create(h, 'web', { machines: ['web-1'] })).status, 201);
    assert.equal((await h.call('viewer', 'PATCH', '/api/instances/web', { machines: ['web-2'] })).status, 403);
    const moved = await h.call('deployer', 'PATCH', '/api/instances/web', { machines: ['web-2'], reason: 'new box' });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.deepEqual(moved.body.placement, { machines: ['web-2'] });
    const [entry] = await h.store.listAudit({ action: 'instance.update', instance: 'web' });
    assert.deepEqual([(entry?.before as { placement: unknown }).placement, (entry?.after as { placement: unknown }).placement, entry?.reason], [{ machines: ['web-1'] }, { machines: ['web-2'] }, 'new box']);

    const d = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0' });
    assert.equal(d.body.status, 'succeeded', JSON.stringify(d.body));
    const spread = await h.call('deployer', 'PATCH', '/api/instances/web', { machineSelector: 'name=web-*' });
    assert.equal(spread.status, 200, JSON.stringify(spread.body));
    assert.deepEqual(spread.body.placement, { selector: 'name=web-*' });
    const refused = await h.call('admin', 'PATCH', '/api/instances/web', { machineSelector: 'role=nothing' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'INSTANCE_MOVE_UNSUPPORTED');
    assert.match(refused.body.message, /runs 1\.0\.0; selector role=nothing matches no active machine/);
    assert.deepEqual((await h.store.getInstance('web'))!.placement, { selector: 'name=web-*' }, 'a refusal changes nothing');
  } finally {
    await h.close();
  }
});

test('machine list/show: instances and drift; drain and remove refuse to take the last active machine of a deployed instance', async () => {
  const h = await withShop();
  try {
    await join(h, 'web-1');
    await join(h, 'web-2');
    for (const name of ['b', 'a']) assert.equal((await create(h, name, { machines: ['web-1'] })).status, 201);
    assert.equal((await create(h, 'c', { machineSelector: 'name=web-*' })).status, 201);
    const list = await h.call('viewer', 'GET', '/api/machines');
    assert.deepEqual(
      list.body.items.map((m: { name: string; instances: string[]; drift: { summary: string } }) => [m.name, m.instances, m.drift.summary]),
      [['web-1', ['a', 'b', 'c'], 'none'], ['web-2', ['c'], 'none']],
    );
    const { number } = await nextDesiredState(h, 'web-1');
    const show = await h.call('viewer', 'GET', '/api/machines/web-1');
    assert.deepEqual(show.body.drift, { state: 'pending', number, ackedNumber: null, summary: `pending (${number}, acked none)` });

    const refused = await h.call('admin', 'DELETE', '/api/machines/web-1');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'MACHINE_IN_USE');
    assert.match(refused.body.message, /the only machine of a, b/);
    assert.equal((await h.store.getMachine('web-1'))!.status, 'active', 'a refusal changes nothing');
    assert.equal((await h.store.listAudit({ action: 'machine.remove' })).length, 0);

    // A deployed instance on web-1 alone: web-1 can be neither drained nor removed.
    assert.equal((await h.call('deployer', 'POST', '/api/instances/a/deploy?wait=5000', { version: '1.0.0' })).body.status, 'succeeded');
    const drain = await h.call('admin', 'POST', '/api/machines/web-1/drain');
    assert.equal(drain.status, 409);
    assert.match(drain.body.message, /the last active machine of instance a; place it on another machine first/);
    // c is on both machines (by selector): web-2 may go.
    assert.equal((await h.call('deployer', 'POST', '/api/instances/c/deploy?wait=5000', { version: '1.0.0' })).body.status, 'succeeded');
    assert.equal((await h.call('admin', 'POST', '/api/machines/web-2/drain')).status, 200, 'c keeps web-1');
    assert.equal((await h.call('admin', 'DELETE', '/api/machines/web-2')).status, 200, 'c keeps web-1');
  } finally {
    await h.close();
  }
});

test('deploy --skip-unreachable is an admin decision with a reason; --rolling is checked at the edge', async () => {
  const h = await withShop();
  try {
    assert.equal((await create(h, 'web')).status, 201);
    const byDeployer = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.0.0', skipUnreachable: true, reason: 'web-3 down' });
    assert.equal(byDeployer.status, 403);
    assert.match(byDeployer.body.message, /deploying without the unreachable machines needs an admin token/);
    const noReason = await h.call('admin', 'POST', '/api/instances/web/deploy', { version: '1.0.0', skipUnreachable: true });
    assert.equal(noReason.status, 400);
    assert.match(JSON.stringify(noReason.body), /skipUnreachable needs a reason/);
    assert.equal((await h.call('viewer', 'POST', '/api/instances/web/deploy', { version: '1.0.0', rolling: { maxUnavailable: 1 } })).status, 403);
    const badRolling = await h.call('admin', 'POST', '/api/instances/web/deploy', { version: '1.0.0', rolling: { maxUnavailable: 0 } });
    assert.equal(badRolling.status, 400);
    assert.deepEqual(await h.store.listDeployments({ instance: 'web' }), [], 'nothing was started');
    const skipped = await h.call('admin', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0', skipUnreachable: true, reason: 'web-3 in repair' });
    assert.equal(skipped.status, 202, JSON.stringify(skipped.body));
    const [entry] = await h.store.listAudit({ action: 'deploy.start', instance: 'web' });
    assert.equal(entry?.reason, 'web-3 in repair', 'the reason is audited');
  } finally {
    await h.close();
  }
});
