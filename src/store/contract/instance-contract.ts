import assert from 'node:assert/strict';
import { verifyAuditChain } from '../audit-chain.ts';
import type { InstanceRecord } from '../types.ts';
import { deployment, entry, instance } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** Instances: declared fields, runtime state, paging, and atomic spec changes. */
export function instanceContract(withStore: WithStore) {
  withStore('instances insert once and read back equal with every field', async (store) => {
    const full = instance('shop-live', {
      hosts: ['shop.example.test', 'www.shop.example.test'],
      environment: 'test',
      tenant: 'acme',
      labels: { region: 'eu', tier: 'gold' },
      target: { channel: 'stable' },
      currentVersion: '1.2.0',
      activeColor: 'green',
      slots: {
        blue: { version: '1.1.0', status: 'warm', deploymentId: 'd1', warmUntil: 99 },
        green: { version: '1.2.0', status: 'live', deploymentId: 'd2' },
      },
      createdAt: 5,
      updatedAt: 6,
    });
    assert.equal(await store.insertInstance(full), true);
    assert.equal(await store.insertInstance(instance('shop-live')), false, 'name taken');
    assert.deepEqual(await store.getInstance('shop-live'), full);
    await store.insertInstance(instance('pinned', { target: { version: '1.0.0' } }));
    assert.deepEqual((await store.getInstance('pinned'))!.target, { version: '1.0.0' });
    assert.equal(await store.getInstance('zzz'), undefined);
  });

  withStore('instances list by name in code-point order, and page by name', async (store) => {
    // Code-point (C collation) order: '-' sorts before digits, digits before letters.
    const names = ['b', 'a10', 'a-b', 'a2', 'ab', 'a1', 'c-1', 'a', 'b-2', 'c'];
    for (const n of names) assert.equal(await store.insertInstance(instance(n)), true);
    const sorted = ['a', 'a-b', 'a1', 'a10', 'a2', 'ab', 'b', 'b-2', 'c', 'c-1'];
    assert.deepEqual(
      (await store.listInstances()).map((i) => i.name),
      sorted,
    );
    assert.deepEqual(
      await store.listInstances(),
      await Promise.all(sorted.map(async (n) => (await store.getInstance(n))!)),
    );
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listInstances(after === undefined ? { limit: 3 } : { after, limit: 3 });
      assert.ok(page.length <= 3);
      paged.push(...page.map((i) => i.name));
      if (page.length < 3) break;
      after = page.at(-1)!.name;
    }
    assert.deepEqual(paged, sorted, 'keyset pages cover every instance once, in order');
    assert.deepEqual(
      (await store.listInstances({ after: 'a2' })).map((i) => i.name),
      ['ab', 'b', 'b-2', 'c', 'c-1'],
    );
    assert.deepEqual(
      (await store.listInstances({ after: 'a3', limit: 2 })).map((i) => i.name),
      ['ab', 'b'],
      '`after` need not be a stored name',
    );
    assert.deepEqual(await store.listInstances({ after: 'c-1' }), []);
    assert.deepEqual(await store.listInstances({ limit: 0 }), []);
    await store.insertInstance(instance('a0'));
    assert.deepEqual(
      (await store.listInstances({ after: 'a', limit: 3 })).map((i) => i.name),
      ['a-b', 'a0', 'a1'],
      'an insert shows in the next page',
    );
  });

  withStore('saveInstanceState writes the runtime fields and updatedAt only', async (store) => {
    await store.insertInstance(instance('a', { labels: { tier: 'free' }, target: { version: '1.0.0' } }));
    const stale = (await store.getInstance('a'))!;
    // A retarget lands while a deployment holds its (now stale) copy of the instance.
    const res = await store.updateInstanceSpecs(
      [
        {
          name: 'a',
          target: { channel: 'beta' },
          labels: { tier: 'gold' },
          tenant: 'acme',
          environment: 'test',
        },
      ],
      50,
      [entry(50, { action: 'instance.target', instance: 'a' })],
    );
    assert.deepEqual(res, { missing: [] });
    stale.currentVersion = '1.0.0';
    stale.activeColor = 'blue';
    stale.slots.blue = { version: '1.0.0', status: 'live', deploymentId: 'd1' };
    stale.slots.green = { version: '0.9.0', status: 'warm', deploymentId: 'd0', warmUntil: 500 };
    stale.updatedAt = 60;
    stale.hosts = ['changed.example.test'];
    stale.app = 'other';
    stale.createdAt = 999;
    await store.saveInstanceState(stale);
    const expected: InstanceRecord = instance('a', {
      environment: 'test',
      tenant: 'acme',
      labels: { tier: 'gold' },
      target: { channel: 'beta' },
      currentVersion: '1.0.0',
      activeColor: 'blue',
      slots: {
        blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' },
        green: { version: '0.9.0', status: 'warm', deploymentId: 'd0', warmUntil: 500 },
      },
      updatedAt: 60,
    });
    assert.deepEqual(
      await store.getInstance('a'),
      expected,
      'the retarget survives; hosts, app, createdAt are not written',
    );
    await store.saveInstanceState(instance('ghost', { currentVersion: '1.0.0' }));
    assert.equal(
      await store.getInstance('ghost'),
      undefined,
      'saving the state of a missing instance creates nothing',
    );
  });

  withStore(
    'updateInstanceSpecs changes only the given fields and appends the audit entries',
    async (store) => {
      await store.insertInstance(
        instance('a', {
          tenant: 'acme',
          labels: { x: '1' },
          target: { version: '1.0.0' },
          currentVersion: '1.0.0',
        }),
      );
      await store.insertInstance(instance('b', { environment: 'test', target: { channel: 'beta' } }));
      await store.insertInstance(instance('c'));
      const res = await store.updateInstanceSpecs(
        [
          { name: 'a', target: null, tenant: null },
          { name: 'b', labels: { tier: 'gold', region: 'eu' } },
          { name: 'b', environment: 'staging' },
          { name: 'c', target: { channel: 'stable' } },
        ],
        77,
        [
          entry(77, { action: 'instance.target', instance: 'a' }),
          entry(77, { action: 'instance.target', instance: 'c' }),
        ],
      );
      assert.deepEqual(res, { missing: [] });
      assert.deepEqual(
        await store.getInstance('a'),
        instance('a', { labels: { x: '1' }, currentVersion: '1.0.0', updatedAt: 77 }),
      );
      assert.deepEqual(
        await store.getInstance('b'),
        instance('b', {
          environment: 'staging',
          labels: { tier: 'gold', region: 'eu' },
          target: { channel: 'beta' },
          updatedAt: 77,
        }),
      );
      assert.deepEqual(
        await store.getInstance('c'),
        instance('c', { target: { channel: 'stable' }, updatedAt: 77 }),
      );
      const log = await store.readAuditChain(0, 100);
      assert.deepEqual(
        log.map((e) => [e.id, e.instance]),
        [
          [1, 'a'],
          [2, 'c'],
        ],
        'entries appended in the order given',
      );
      assert.equal(verifyAuditChain(log, await store.auditHead()).ok, true);
      assert.deepEqual(await store.updateInstanceSpecs([], 80, []), { missing: [] });
    },
  );

  withStore(
    'updateInstanceSpecs with a missing instance changes nothing and names every missing one',
    async (store) => {
      await store.insertInstance(instance('a'));
      await store.appendAudit(entry(1));
      const headBefore = await store.auditHead();
      const res = await store.updateInstanceSpecs(
        [
          { name: 'ghost-2', target: { version: '2.0.0' } },
          { name: 'a', target: { version: '2.0.0' }, labels: { x: 'y' } },
          { name: 'ghost-1', tenant: 't' },
          { name: 'ghost-2', environment: 'test' },
        ],
        90,
        [entry(90), entry(90)],
      );
      assert.deepEqual(
        res,
        { missing: ['ghost-2', 'ghost-1'] },
        'each missing name once, in the order of the changes',
      );
      assert.deepEqual(await store.getInstance('a'), instance('a'));
      assert.deepEqual(await store.auditHead(), headBefore, 'no audit entry appended');
      assert.equal((await store.listAudit()).length, 1);
      assert.deepEqual(
        (await store.listInstances()).map((i) => i.name),
        ['a'],
      );
    },
  );

  withStore('an instance is forgotten with its lock and one audit entry; its deployments stay', async (store) => {
    await store.insertInstance(instance('gone', { hosts: ['gone.test'] }));
    await store.insertInstance(instance('kept'));
    await store.insertDeployment(deployment('d1', 'gone', 10));
    await store.acquireLock({ instance: 'gone', owner: 'x', deploymentId: 'd1', acquiredAt: 10, expiresAt: 1000 }, 10);
    assert.equal(await store.deleteInstance('gone', entry(20, { action: 'instance.delete', subject: 'gone' })), true);
    assert.equal(await store.getInstance('gone'), undefined);
    assert.deepEqual((await store.listInstances()).map((i) => i.name), ['kept']);
    assert.equal(await store.getLock('gone'), undefined);
    assert.deepEqual((await store.listDeployments({ instance: 'gone' })).map((d) => d.id), ['d1']);
    assert.deepEqual((await store.listAudit()).map((e) => e.action), ['instance.delete']);
    assert.equal(await store.deleteInstance('gone', entry(30)), false, 'already gone');
    assert.equal((await store.listAudit()).length, 1, 'no entry for nothing deleted');
    assert.equal(await store.insertInstance(instance('gone')), true, 'the name is free again');
  });

  withStore('host names change through updateInstanceSpecs', async (store) => {
    await store.insertInstance(instance('web', { hosts: ['a.test'] }));
    assert.deepEqual(await store.updateInstanceSpecs([{ name: 'web', hosts: ['b.test', 'c.test'] }], 50, [entry(50)]), { missing: [] });
    const after = (await store.getInstance('web'))!;
    assert.deepEqual(after.hosts, ['b.test', 'c.test']);
    assert.equal(after.updatedAt, 50);
    await store.updateInstanceSpecs([{ name: 'web', environment: 'test' }], 60, []);
    assert.deepEqual((await store.getInstance('web'))!.hosts, ['b.test', 'c.test'], 'left alone when not given');
  });

  withStore('deployments page newest first with before', async (store) => {
    await store.insertInstance(instance('web'));
    for (const at of [10, 20, 30, 40, 50]) await store.insertDeployment(deployment(`d${at}`, 'web', at));
    assert.deepEqual((await store.listDeployments({ instance: 'web', limit: 2 })).map((d) => d.id), ['d50', 'd40']);
    assert.deepEqual((await store.listDeployments({ instance: 'web', before: 40, limit: 2 })).map((d) => d.id), ['d30', 'd20']);
    assert.deepEqual((await store.listDeployments({ instance: 'web', before: 20 })).map((d) => d.id), ['d10']);
  });
}
