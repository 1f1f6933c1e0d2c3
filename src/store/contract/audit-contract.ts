import assert from 'node:assert/strict';
import { auditHash, verifyAuditChain } from '../audit-chain.ts';
import type { AuditEntry } from '../types.ts';
import { entry, instance, move, moveEntry } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** The hash-chained audit log. */
export function auditContract(withStore: WithStore) {
  withStore('audit entries get ids 1, 2, 3… chained by hash, optional fields filled', async (store) => {
    assert.equal(await store.auditHead(), undefined, 'an empty log has no head');
    assert.deepEqual(await store.readAuditChain(0, 10), []);
    const first = await store.appendAudit({
      at: 1,
      actor: 'admin',
      action: 'release.publish',
      subject: 'shop@1.0.0',
    });
    assert.deepEqual(first, {
      id: 1,
      at: 1,
      actor: 'admin',
      action: 'release.publish',
      subject: 'shop@1.0.0',
      instance: null,
      app: null,
      version: null,
      reason: null,
      requestId: null,
      before: null,
      after: null,
      details: {},
      prevHash: '',
      hash: first.hash,
    });
    const { hash, ...fields } = first;
    assert.equal(hash, auditHash(fields));
    const second = await store.appendAudit({
      at: 2,
      actor: 'ci',
      action: 'instance.target',
      subject: 'shop-live',
      instance: 'shop-live',
      app: 'shop',
      version: '1.1.0',
      reason: 'friday',
      requestId: 'req-1',
      before: { target: { version: '1.0.0' } },
      after: ['a', 1, true, null, { deep: [{ x: 1.5 }] }],
      details: { count: 3, nested: { list: [1, 'two'] } },
    });
    assert.equal(second.id, 2);
    assert.equal(second.prevHash, first.hash);
    const { hash: h2, ...f2 } = second;
    assert.equal(h2, auditHash(f2));
    assert.deepEqual(await store.auditHead(), { id: 2, hash: h2 });
    assert.deepEqual(await store.readAuditChain(0, 10), [first, second], 'read back exactly as returned');
    assert.deepEqual(await store.listAudit(), [second, first], 'newest first');
    const scalar = await store.appendAudit(entry(3, { before: 'old', after: 42 }));
    assert.deepEqual([scalar.before, scalar.after], ['old', 42]);
    assert.deepEqual((await store.readAuditChain(2, 10))[0], scalar);
  });

  withStore('readAuditChain pages oldest first after an id', async (store) => {
    for (let at = 1; at <= 7; at += 1) await store.appendAudit(entry(at));
    const ids = async (after: number, limit: number) =>
      (await store.readAuditChain(after, limit)).map((e) => e.id);
    assert.deepEqual(await ids(0, 3), [1, 2, 3]);
    assert.deepEqual(await ids(3, 3), [4, 5, 6]);
    assert.deepEqual(await ids(6, 3), [7]);
    assert.deepEqual(await ids(7, 3), []);
    assert.deepEqual(await ids(2, 0), []);
    const v = verifyAuditChain(await store.readAuditChain(0, 1000), await store.auditHead());
    assert.deepEqual([v.ok, v.checked, v.last?.id], [true, 7, 7]);
  });

  withStore('listAudit applies every filter, newest first', async (store) => {
    const spec: [number, Partial<AuditEntry>][] = [
      [
        10,
        {
          actor: 'alice',
          action: 'deploy.start',
          subject: 'shop-live',
          instance: 'shop-live',
          app: 'shop',
          version: '1.0.0',
        },
      ],
      [20, { actor: 'bob', action: 'release.publish', subject: 'shop@1.1.0', app: 'shop', version: '1.1.0' }],
      [
        30,
        {
          actor: 'alice',
          action: 'deploy.start',
          subject: 'shop-test',
          instance: 'shop-test',
          app: 'shop',
          version: '1.1.0',
        },
      ],
      [40, { actor: 'bob', action: 'release.publish', subject: 'blog@1.1.0', app: 'blog', version: '1.1.0' }],
      [50, { actor: 'system', action: 'token.create', subject: 'token:ci' }],
    ];
    for (const [at, over] of spec) await store.appendAudit(entry(at, over));
    const ids = async (f: Parameters<typeof store.listAudit>[0]) =>
      (await store.listAudit(f)).map((e) => e.id);
    assert.deepEqual(await ids({}), [5, 4, 3, 2, 1]);
    assert.deepEqual(await ids({ instance: 'shop-live' }), [1]);
    assert.deepEqual(await ids({ version: '1.1.0' }), [4, 3, 2], 'a version of any app');
    assert.deepEqual(await ids({ version: '1.1.0', app: 'shop' }), [3, 2]);
    assert.deepEqual(await ids({ app: 'shop' }), [3, 2, 1]);
    assert.deepEqual(await ids({ actor: 'alice' }), [3, 1]);
    assert.deepEqual(await ids({ subject: 'token:ci' }), [5]);
    assert.deepEqual(await ids({ action: 'release.publish' }), [4, 2]);
    assert.deepEqual(await ids({ since: 20 }), [5, 4, 3, 2], 'since is inclusive');
    assert.deepEqual(await ids({ until: 30 }), [2, 1], 'until is exclusive');
    assert.deepEqual(await ids({ since: 20, until: 40 }), [3, 2]);
    assert.deepEqual(await ids({ before: 4 }), [3, 2, 1], 'before: ids below it');
    assert.deepEqual(await ids({ before: 1 }), []);
    assert.deepEqual(await ids({ limit: 2 }), [5, 4]);
    assert.deepEqual(await ids({ limit: 0 }), []);
    assert.deepEqual(
      await ids({ before: 5, limit: 2, actor: 'bob' }),
      [4, 2],
      'paging newest first with a filter',
    );
    assert.deepEqual(await ids({ actor: 'alice', action: 'deploy.start', app: 'shop', since: 15 }), [3]);
    assert.deepEqual(await ids({ actor: 'nobody' }), []);
  });

  withStore('concurrent appends get ids 1..50 and one valid chain', async (store) => {
    const appended = await Promise.all(
      Array.from({ length: 50 }, (_, k) => store.appendAudit(entry(k, { details: { k } }))),
    );
    assert.deepEqual(
      appended.map((e) => e.id).sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, k) => k + 1),
    );
    const chain = await store.readAuditChain(0, 1000);
    assert.equal(chain.length, 50);
    const v = verifyAuditChain(chain, await store.auditHead());
    assert.equal(v.ok, true, v.problem?.message);
    assert.deepEqual(await store.auditHead(), { id: 50, hash: chain.at(-1)!.hash });
  });

  withStore('appends interleaved with channel moves and spec changes keep one valid chain', async (store) => {
    await store.insertInstance(instance('a'));
    const ops: Promise<unknown>[] = [];
    for (let k = 0; k < 10; k += 1) {
      ops.push(store.appendAudit(entry(k)));
      const m = move('shop', `ch${k}`, null, '1.0.0', k);
      ops.push(store.moveChannel(m, moveEntry(m)));
      ops.push(
        store.updateInstanceSpecs([{ name: 'a', labels: { k: String(k) } }], k, [
          entry(k, { instance: 'a' }),
        ]),
      );
    }
    await Promise.all(ops);
    const chain = await store.readAuditChain(0, 1000);
    assert.deepEqual(
      chain.map((e) => e.id),
      Array.from({ length: 30 }, (_, k) => k + 1),
    );
    assert.equal(verifyAuditChain(chain, await store.auditHead()).ok, true);
  });

  withStore('a changed entry fails verification', async (store) => {
    for (let at = 1; at <= 3; at += 1) await store.appendAudit(entry(at, { details: { at } }));
    const chain = await store.readAuditChain(0, 10);
    chain[1]!.details = { at: 99 };
    const v = verifyAuditChain(chain, await store.auditHead());
    assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'edited', 2]);
  });
}
