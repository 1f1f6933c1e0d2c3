import assert from 'node:assert/strict';
import { assertChainEndsWith, assertNoEntrySince, headOf, unstorableEntry } from './audit-assertions.ts';
import { entry, hold } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const POLICY = 'fleet.policy';

/** Settings (JSON values by key) and holds (instances the fleet scheduler must leave alone). */
export function settingsHoldContract(withStore: WithStore) {
  withStore(
    'settings: undefined until set, JSON round trip, a put replaces, audited with it',
    async (store) => {
      assert.equal(await store.getSetting(POLICY), undefined);
      const policy = {
        batchSize: 5,
        environments: ['test', 'production'],
        retry: { max: 2, backoff: null },
        on: true,
      };
      const first = entry(10, { action: 'fleet.policy', subject: 'fleet', before: null, after: policy });
      assert.equal(await store.putSetting(POLICY, policy, first), undefined);
      assert.deepEqual(await store.getSetting(POLICY), policy);
      await assertChainEndsWith(store, [first]);

      const second = entry(20, {
        action: 'fleet.policy',
        subject: 'fleet',
        before: policy,
        after: { batchSize: 1 },
      });
      await store.putSetting(POLICY, { batchSize: 1 }, second);
      assert.deepEqual(await store.getSetting(POLICY), { batchSize: 1 }, 'replaced whole, not merged');
      await assertChainEndsWith(store, [first, second]);

      for (const [key, value] of [
        ['a.number', 42],
        ['a.string', 'text'],
        ['a.null', null],
        ['a.list', [1, 'two', { three: 3 }]],
      ] as const) {
        await store.putSetting(key, value, entry(30, { subject: key }));
        assert.deepEqual(await store.getSetting(key), value, key);
      }
      assert.equal(await store.getSetting('Fleet.policy'), undefined, 'keys are exact');
      assert.deepEqual(await store.getSetting(POLICY), { batchSize: 1 }, 'other keys left alone');
      assert.equal((await store.auditHead())?.id, 6);
    },
  );

  withStore('settings: values going in and out are copies', async (store) => {
    const value = { list: [1], nested: { x: 'a' } };
    await store.putSetting('k', value, entry(1));
    value.list.push(2);
    const got = (await store.getSetting('k')) as typeof value;
    got.nested.x = 'evil';
    assert.deepEqual(await store.getSetting('k'), { list: [1], nested: { x: 'a' } });
  });

  withStore(
    'putSetting changes nothing when its audit entry or its value cannot be stored',
    async (store) => {
      await store.putSetting(POLICY, { batchSize: 5 }, entry(1));
      const head = await headOf(store);
      await assert.rejects(store.putSetting(POLICY, { batchSize: 9 }, unstorableEntry(2)));
      await assert.rejects(store.putSetting('fresh', 1, unstorableEntry(2)));
      await assert.rejects(store.putSetting(POLICY, undefined, entry(3)), 'undefined has no JSON form');
      assert.deepEqual(await store.getSetting(POLICY), { batchSize: 5 });
      assert.equal(await store.getSetting('fresh'), undefined);
      await assertNoEntrySince(store, head, 'failed puts');
      await assertChainEndsWith(store, [entry(1)]);
    },
  );

  withStore(
    'holds: put, replace, list by instance name (expired too), each audited with it',
    async (store) => {
      assert.deepEqual(await store.listHolds(), []);
      const puts = [
        [hold('shop-b'), entry(10, { action: 'fleet.hold', subject: 'shop-b', instance: 'shop-b' })],
        [
          hold('shop-a', { until: 500 }),
          entry(11, { action: 'fleet.hold', subject: 'shop-a', instance: 'shop-a' }),
        ],
        // Code-point order: upper case before lower case, '-' before letters.
        [hold('Shop-c', { until: 1 }), entry(12, { action: 'fleet.hold', subject: 'Shop-c' })],
        [hold('shop', { owner: 'ops' }), entry(13, { action: 'fleet.hold', subject: 'shop' })],
      ] as const;
      for (const [h, e] of puts) {
        assert.equal(await store.putHold(h, e), undefined);
        await assertChainEndsWith(store, [e]);
      }
      assert.deepEqual(await store.listHolds(), [
        hold('Shop-c', { until: 1 }),
        hold('shop', { owner: 'ops' }),
        hold('shop-a', { until: 500 }),
        hold('shop-b'),
      ]);
      const replacement = hold('shop-b', { owner: 'bob', reason: 'investigating', createdAt: 20, until: 99 });
      const replaced = entry(20, { action: 'fleet.hold', subject: 'shop-b', before: 'alice', after: 'bob' });
      await store.putHold(replacement, replaced);
      const listed = await store.listHolds();
      assert.deepEqual(
        listed.filter((h) => h.instance === 'shop-b'),
        [replacement],
        'one hold per instance: the new one replaces the old',
      );
      assert.equal(listed.length, 4);
      await assertChainEndsWith(store, [...puts.map(([, e]) => e), replaced]);
      listed[0]!.owner = 'evil';
      assert.equal((await store.listHolds())[0]!.owner, 'alice', 'listed holds are copies');
    },
  );

  withStore('deleteHold removes a hold with its entry; none to remove: false and no entry', async (store) => {
    await store.putHold(hold('a'), entry(1));
    await store.putHold(hold('b', { until: 100 }), entry(2));
    const removed = entry(3, { action: 'fleet.release', subject: 'a', instance: 'a' });
    assert.equal(await store.deleteHold('a', removed), true);
    assert.deepEqual(await store.listHolds(), [hold('b', { until: 100 })]);
    await assertChainEndsWith(store, [entry(1), entry(2), removed]);
    const head = await headOf(store);
    assert.equal(await store.deleteHold('a', entry(4)), false, 'already removed');
    assert.equal(await store.deleteHold('nobody', entry(5)), false);
    await assertNoEntrySince(store, head, 'deleting a hold that is not there');
    await store.putHold(hold('a', { owner: 'carol' }), entry(6));
    assert.deepEqual(
      (await store.listHolds()).map((h) => [h.instance, h.owner]),
      [
        ['a', 'carol'],
        ['b', 'alice'],
      ],
      'a removed hold can be put again',
    );
  });

  withStore(
    'putHold and deleteHold change nothing when their audit entry cannot be stored',
    async (store) => {
      await store.putHold(hold('a'), entry(1));
      const head = await headOf(store);
      await assert.rejects(store.putHold(hold('b'), unstorableEntry(2)));
      await assert.rejects(store.putHold(hold('a', { owner: 'mallory' }), unstorableEntry(3)));
      await assert.rejects(store.deleteHold('a', unstorableEntry(4)));
      assert.deepEqual(await store.listHolds(), [hold('a')]);
      await assertNoEntrySince(store, head, 'failed hold writes');
    },
  );
}
