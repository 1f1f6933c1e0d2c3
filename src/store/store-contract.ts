import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from './store.ts';
import type { DeploymentRecord, InstanceRecord, ReleaseRecord } from './types.ts';

/**
 * The contract every `Store` implementation passes. Each implementation's test file calls this with
 * a factory that returns a fresh, empty store (and a cleanup).
 */
export function storeContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>) {
  const withStore = (title: string, fn: (store: Store) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
        await cleanup();
      }
    });

  const release = (version: string, at = 1000, app = 'shop'): ReleaseRecord => ({
    app,
    version,
    digest: `d-${version}`,
    spec: { version, nested: { a: [1, 2] } },
    createdAt: at,
    createdBy: 'ci',
  });
  const instance = (name: string): InstanceRecord => ({
    name,
    app: 'shop',
    hosts: [`${name}.example.test`],
    environment: 'production',
    currentVersion: null,
    activeColor: null,
    slots: { blue: null, green: null },
    createdAt: 1,
    updatedAt: 1,
  });
  const deployment = (id: string, inst: string, at: number): DeploymentRecord => ({
    id,
    instance: inst,
    kind: 'deploy',
    strategy: 'start-and-flip',
    fromVersion: null,
    toVersion: '1.0.0',
    fromColor: null,
    toColor: 'blue',
    status: 'running',
    steps: [{ name: 'start', status: 'pending' }],
    actor: 'admin',
    createdAt: at,
    updatedAt: at,
  });

  withStore('releases insert once, read back equal, list newest first', async (store) => {
    assert.equal(await store.insertRelease(release('1.0.0', 1000)), true);
    assert.equal(await store.insertRelease(release('1.1.0', 2000)), true);
    assert.equal(await store.insertRelease(release('1.0.0', 3000)), false, 'duplicate refused');
    assert.deepEqual(await store.getRelease('shop', '1.0.0'), release('1.0.0', 1000));
    assert.equal(await store.getRelease('shop', '9.9.9'), undefined);
    assert.deepEqual(
      (await store.listReleases('shop')).map((r) => r.version),
      ['1.1.0', '1.0.0'],
    );
    await store.insertRelease(release('2.0.0', 500, 'blog'));
    assert.deepEqual(await store.listApps(), ['blog', 'shop']);
    assert.equal((await store.listReleases()).length, 3);
  });

  withStore('returned records are copies', async (store) => {
    await store.insertInstance(instance('a'));
    const got = (await store.getInstance('a'))!;
    got.hosts.push('evil');
    assert.deepEqual((await store.getInstance('a'))!.hosts, ['a.example.test']);
  });

  withStore('instances insert once, update, list by name', async (store) => {
    assert.equal(await store.insertInstance(instance('b')), true);
    assert.equal(await store.insertInstance(instance('a')), true);
    assert.equal(await store.insertInstance(instance('a')), false);
    const a = (await store.getInstance('a'))!;
    a.currentVersion = '1.0.0';
    a.activeColor = 'blue';
    a.slots.blue = { version: '1.0.0', status: 'live', deploymentId: 'd1' };
    a.updatedAt = 5;
    await store.updateInstance(a);
    assert.deepEqual(await store.getInstance('a'), a);
    assert.deepEqual(
      (await store.listInstances()).map((i) => i.name),
      ['a', 'b'],
    );
    assert.equal(await store.getInstance('zzz'), undefined);
  });

  withStore('deployments insert, update, filter, newest first', async (store) => {
    await store.insertDeployment(deployment('d1', 'a', 10));
    await store.insertDeployment(deployment('d2', 'a', 20));
    await store.insertDeployment(deployment('d3', 'b', 30));
    const d1 = (await store.getDeployment('d1'))!;
    d1.status = 'succeeded';
    d1.steps[0]!.status = 'done';
    await store.updateDeployment(d1);
    assert.deepEqual(await store.getDeployment('d1'), d1);
    assert.deepEqual(
      (await store.listDeployments({ instance: 'a' })).map((d) => d.id),
      ['d2', 'd1'],
    );
    assert.deepEqual(
      (await store.listDeployments({ status: 'running' })).map((d) => d.id),
      ['d3', 'd2'],
    );
    assert.deepEqual(
      (await store.listDeployments({ limit: 1 })).map((d) => d.id),
      ['d3'],
    );
  });

  withStore('a lock has one holder until it is released or expires', async (store) => {
    const lock = (owner: string, at: number) => ({
      instance: 'a',
      owner,
      deploymentId: `dep-${owner}`,
      acquiredAt: at,
      expiresAt: at + 100,
    });
    const first = await store.acquireLock(lock('alice', 0), 0);
    assert.equal(first.ok, true);
    const second = await store.acquireLock(lock('bob', 50), 50);
    assert.equal(second.ok, false);
    assert.equal(!second.ok && second.holder.owner, 'alice');
    assert.equal(!second.ok && second.holder.deploymentId, 'dep-alice');
    assert.equal(await store.releaseLock('a', 'bob'), false, 'only the holder releases');
    const expired = await store.acquireLock(lock('bob', 100), 100);
    assert.equal(expired.ok, true, 'an expired lease can be taken');
    assert.equal((await store.getLock('a'))!.owner, 'bob');
    assert.equal(await store.releaseLock('a', 'bob'), true);
    assert.equal(await store.getLock('a'), undefined);
    const concurrent = await Promise.all(['x', 'y', 'z'].map((o) => store.acquireLock(lock(o, 200), 200)));
    assert.equal(concurrent.filter((r) => r.ok).length, 1);
  });

  withStore('tokens are found by hash, names unique', async (store) => {
    assert.equal(await store.countTokens(), 0);
    assert.equal(await store.insertToken({ name: 'admin', hash: 'h1', role: 'admin', createdAt: 1 }), true);
    assert.equal(await store.insertToken({ name: 'admin', hash: 'h2', role: 'viewer', createdAt: 2 }), false);
    assert.deepEqual(await store.findTokenByHash('h1'), { name: 'admin', hash: 'h1', role: 'admin', createdAt: 1 });
    assert.equal(await store.findTokenByHash('nope'), undefined);
    assert.equal(await store.countTokens(), 1);
  });

  withStore('audit entries are appended with increasing ids and listed newest first', async (store) => {
    const a = await store.appendAudit({ at: 1, actor: 'admin', action: 'release.publish', subject: 'shop@1.0.0', details: { x: 1 } });
    const b = await store.appendAudit({
      at: 2,
      actor: 'admin',
      action: 'deploy',
      subject: 'a',
      reason: 'friday',
      details: {},
    });
    assert.ok(b.id > a.id);
    const all = await store.listAudit();
    assert.deepEqual(
      all.map((e) => e.action),
      ['deploy', 'release.publish'],
    );
    assert.equal(all[0]!.reason, 'friday');
    assert.deepEqual(all[1]!.details, { x: 1 });
    assert.deepEqual(
      (await store.listAudit({ subject: 'a' })).map((e) => e.id),
      [b.id],
    );
  });
}
