import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReleaseSpec } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

async function withDeployed(versions: string[]): Promise<Harness> {
  const h = await startHarness();
  for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0']) await h.release(v, testReleaseSpec(v));
  assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'] })).status, 201);
  for (const v of versions) {
    const d = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: v });
    assert.equal(d.body.status, 'succeeded', JSON.stringify(d.body));
    h.clock.advance(1000);
  }
  return h;
}

test('instance delete: admin only; drains and stops on the runtime, forgets the record, audited; history stays', async () => {
  const h = await withDeployed(['1.0.0', '1.1.0']);
  try {
    assert.equal((await h.call('deployer', 'DELETE', '/api/instances/web', {})).status, 403);
    assert.equal((await h.store.getInstance('web'))?.name, 'web', 'a refused delete changes nothing');
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/web/hold', { reason: 'freeze' })).status, 200);
    const r = await h.call('admin', 'DELETE', '/api/instances/web', { reason: 'customer left' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { instance: 'web', app: 'shop', hosts: ['web.test'], stopped: ['1.0.0', '1.1.0'].sort() });
    assert.ok(h.runtime.calls.includes('remove web'));
    assert.equal(h.runtime.instances.get('web'), undefined);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/web')).status, 404);
    const [entry] = await h.store.listAudit({ action: 'instance.delete' });
    assert.equal(entry?.actor, 'admin');
    assert.equal(entry?.reason, 'customer left');
    assert.equal(await h.store.getLock('web'), undefined, 'the lock taken for the delete is gone');
    assert.deepEqual(await h.store.listHolds(), [], 'its hold goes with it');
    assert.equal((await h.store.listAudit({ action: 'instance.unhold' }))[0]?.reason, 'the instance was deleted');
    const history = await h.call('viewer', 'GET', '/api/instances/web/deployments');
    assert.equal(history.body.items.length, 2, 'a deleted instance keeps its history');
    assert.equal((await h.call('admin', 'DELETE', '/api/instances/web', {})).status, 404);
    assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'] })).status, 201, 'name and host are free again');
  } finally {
    await h.close();
  }
});

test('instance delete is refused while a deployment runs or someone holds the lock, and changes nothing', async () => {
  const h = await withDeployed(['1.0.0']);
  try {
    let open!: () => void;
    h.runtime.gate = new Promise((r) => (open = r));
    const started = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.1.0' });
    assert.equal(started.status, 202);
    const refused = await h.call('admin', 'DELETE', '/api/instances/web', {});
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'INSTANCE_LOCKED');
    assert.match(refused.body.message, /is running on "web".*cutover abort web/);
    assert.ok(!h.runtime.calls.includes('remove web'));
    assert.ok(await h.store.getInstance('web'));
    open();
    h.runtime.gate = undefined;
    await h.call('viewer', 'GET', `/api/deployments/${started.body.id}?wait=5000`);
    await h.store.acquireLock({ instance: 'web', owner: 'someone', deploymentId: 'x', acquiredAt: h.clock.now(), expiresAt: h.clock.now() + 60_000 }, h.clock.now());
    const locked = await h.call('admin', 'DELETE', '/api/instances/web', {});
    assert.equal(locked.status, 409);
    assert.match(locked.body.message, /locked by someone/);
    assert.ok(await h.store.getInstance('web'));
  } finally {
    await h.close();
  }
});

test('host names: changed on the router and in the store, audited; a taken host is refused', async () => {
  const h = await withDeployed(['1.0.0']);
  try {
    assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'api', app: 'shop', hosts: ['api.test'] })).status, 201);
    const taken = await h.call('deployer', 'PUT', '/api/instances/web/hosts', { hosts: ['new.test', 'API.test'] });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'HOST_IN_USE');
    assert.deepEqual((await h.store.getInstance('web'))!.hosts, ['web.test']);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/web/hosts', { hosts: ['not a host'] })).status, 400);
    const ok = await h.call('deployer', 'PUT', '/api/instances/web/hosts', { hosts: ['New.test', 'www.new.test'], reason: 'rename' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.hosts, ['new.test', 'www.new.test']);
    assert.deepEqual(h.runtime.instances.get('web')!.hosts, ['new.test', 'www.new.test'], 're-routed on the runtime');
    const [entry] = await h.store.listAudit({ action: 'instance.update' });
    assert.deepEqual([entry?.before, entry?.after], [{ hosts: ['web.test'] }, { hosts: ['new.test', 'www.new.test'] }]);
    // Never deployed: the store changes; the runtime hears of it at the first deploy.
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/api/hosts', { hosts: ['api2.test'] })).status, 200);
    assert.equal(h.runtime.instances.get('api'), undefined);
  } finally {
    await h.close();
  }
});

test('history and audit page newest first through next and cursor; before still works', async () => {
  const h = await withDeployed(['1.0.0', '1.1.0', '1.2.0']);
  try {
    const first = await h.call('viewer', 'GET', '/api/instances/web/deployments?limit=2');
    assert.deepEqual(first.body.items.map((d: { toVersion: string }) => d.toVersion), ['1.2.0', '1.1.0']);
    assert.equal(typeof first.body.next, 'string');
    const second = await h.call('viewer', 'GET', `/api/instances/web/deployments?limit=2&cursor=${first.body.next}`);
    assert.deepEqual(second.body.items.map((d: { toVersion: string }) => d.toVersion), ['1.0.0']);
    assert.equal(second.body.next, null);
    assert.deepEqual((await h.call('viewer', 'GET', `/api/instances/web/deployments?limit=2&before=${first.body.next}`)).body, second.body);
    const bad = await h.call('viewer', 'GET', '/api/instances/web/deployments?cursor=yesterday');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /cursor: must be the `next` of the previous page/);

    // The audit log pages the same way, by `next`, until null.
    const all = (await h.call('viewer', 'GET', '/api/audit?limit=10000')).body.items as Array<{ id: number }>;
    const paged: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { items: Array<{ id: number }>; next: string | null } = (await h.call('viewer', 'GET', `/api/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...page.items.map((e: { id: number }) => e.id));
      cursor = page.next;
    }
    assert.deepEqual(paged, all.map((e) => e.id));
    assert.ok(paged.length > 3);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/nope/deployments')).status, 404);
  } finally {
    await h.close();
  }
});

test('prune: dry run says what would go; the real one keeps slots and the last n releases; a later deploy fetches a pruned one again', async () => {
  const h = await withDeployed(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0']);
  try {
    h.runtime.artifacts.add('sha256:orphan');
    assert.equal((await h.call('deployer', 'POST', '/api/prune', { dryRun: true })).status, 403);
    const dry = await h.call('admin', 'POST', '/api/prune', { dryRun: true });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(dry.body.remove.map((r: { digest: string }) => r.digest), ['sha256:1.0.0', 'sha256:1.1.0', 'sha256:orphan']);
    assert.deepEqual(dry.body.keep.map((k: { digest: string }) => k.digest), ['sha256:1.2.0', 'sha256:1.3.0', 'sha256:1.4.0']);
    assert.equal(h.runtime.artifacts.size, 6, 'a dry run deletes nothing');
    const real = await h.call('admin', 'POST', '/api/prune', {});
    assert.equal(real.body.dryRun, false);
    assert.deepEqual([...h.runtime.artifacts].sort(), ['sha256:1.2.0', 'sha256:1.3.0', 'sha256:1.4.0']);
    const again = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0' });
    assert.equal(again.body.status, 'succeeded', JSON.stringify(again.body));
    assert.ok(h.runtime.artifacts.has('sha256:1.0.0'), 'fetched again by digest');
  } finally {
    await h.close();
  }
});
