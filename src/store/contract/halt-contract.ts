import assert from 'node:assert/strict';
import type { HaltRecord, NewHalt } from '../types.ts';
import { assertChainEndsWith, assertNoEntrySince, headOf, unstorableEntry } from './audit-assertions.ts';
import { entry, halt } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** What insertHalt returns for `h` given the id it assigned. */
const stored = (h: NewHalt, id: number): HaltRecord => ({
  ...h,
  id,
  liftedBy: null,
  liftedAt: null,
  liftReason: null,
});

const haltEntry = (h: NewHalt) =>
  entry(h.haltedAt, {
    actor: h.haltedBy,
    action: 'fleet.halt',
    subject: `${h.app}@${h.version}`,
    app: h.app,
    version: h.version,
  });

/** Halts: the fleet-wide stop of one version's rollout, at most one active per version. */
export function haltContract(withStore: WithStore) {
  withStore(
    'insertHalt records an active halt with its entry; a second active halt of the version is refused',
    async (store) => {
      const first = halt('shop', '1.1.0', 10, { problemId: 3 });
      const h1 = await store.insertHalt(first, haltEntry(first));
      assert.ok(h1);
      assert.deepEqual(h1, stored(first, h1.id));
      await assertChainEndsWith(store, [haltEntry(first)]);

      const head = await headOf(store);
      const again = halt('shop', '1.1.0', 20, { reason: 'again', haltedBy: 'admin' });
      assert.equal(await store.insertHalt(again, haltEntry(again)), undefined);
      await assertNoEntrySince(store, head, 'a refused halt');
      assert.deepEqual(await store.listHalts(), [h1]);

      const otherApp = halt('blog', '1.1.0', 30);
      const otherVersion = halt('shop', '1.2.0', 40);
      const h2 = await store.insertHalt(otherApp, haltEntry(otherApp));
      const h3 = await store.insertHalt(otherVersion, haltEntry(otherVersion));
      assert.ok(h2 && h3);
      assert.ok(h1.id < h2.id && h2.id < h3.id, 'ids increase');
      assert.deepEqual(await store.listHalts(), [h3, h2, h1]);
      await assertChainEndsWith(store, [haltEntry(first), haltEntry(otherApp), haltEntry(otherVersion)]);
      h3.reason = 'evil';
      (await store.listHalts())[0]!.app = 'evil';
      assert.deepEqual((await store.listHalts())[0], stored(otherVersion, h3.id), 'records are copies');
    },
  );

  withStore(
    'liftHalt lifts the active halt once, with its entry; the version may halt again',
    async (store) => {
      const h = halt('shop', '1.1.0', 10);
      const h1 = (await store.insertHalt(h, haltEntry(h)))!;
      const liftEntry = entry(20, {
        action: 'fleet.resume',
        subject: 'shop@1.1.0',
        app: 'shop',
        version: '1.1.0',
        reason: 'fixed',
      });
      const lifted = await store.liftHalt(
        'shop',
        '1.1.0',
        { by: 'alice', at: 20, reason: 'fixed upstream' },
        liftEntry,
      );
      const expected: HaltRecord = { ...h1, liftedBy: 'alice', liftedAt: 20, liftReason: 'fixed upstream' };
      assert.deepEqual(lifted, expected);
      assert.deepEqual(await store.listHalts(), [expected]);
      await assertChainEndsWith(store, [haltEntry(h), liftEntry]);

      const head = await headOf(store);
      assert.equal(
        await store.liftHalt('shop', '1.1.0', { by: 'bob', at: 30, reason: 'again' }, entry(30)),
        undefined,
      );
      assert.equal(
        await store.liftHalt('shop', '9.9.9', { by: 'bob', at: 30, reason: 'none' }, entry(30)),
        undefined,
      );
      assert.equal(
        await store.liftHalt('blog', '1.1.0', { by: 'bob', at: 30, reason: 'other app' }, entry(30)),
        undefined,
      );
      await assertNoEntrySince(store, head, 'lifting what is not halted');
      assert.deepEqual(await store.listHalts(), [expected], 'a lifted halt stays as it was lifted');

      const later = halt('shop', '1.1.0', 40, { reason: 'failed again' });
      const h2 = await store.insertHalt(later, haltEntry(later));
      assert.ok(h2 && h2.id > h1.id, 'a lifted version can halt again, with a new id');
      assert.deepEqual(await store.listHalts({ active: true }), [h2]);
      assert.deepEqual(await store.listHalts({ app: 'shop', version: '1.1.0' }), [h2, expected]);
    },
  );

  withStore('listHalts newest first, filtered by app, version and active', async (store) => {
    const specs = [
      halt('shop', '1.0.0', 1),
      halt('shop', '1.1.0', 2),
      halt('blog', '1.0.0', 3),
      halt('shop', '1.2.0', 4),
    ];
    const ids: number[] = [];
    for (const h of specs) ids.push((await store.insertHalt(h, haltEntry(h)))!.id);
    await store.liftHalt('shop', '1.1.0', { by: 'alice', at: 5, reason: 'ok' }, entry(5));
    const [i1, i2, i3, i4] = ids;
    const list = async (f: Parameters<typeof store.listHalts>[0]) =>
      (await store.listHalts(f)).map((h) => h.id);
    assert.deepEqual(await list(undefined), [i4, i3, i2, i1]);
    assert.deepEqual(await list({ app: 'shop' }), [i4, i2, i1]);
    assert.deepEqual(await list({ version: '1.0.0' }), [i3, i1], 'a version of any app');
    assert.deepEqual(await list({ app: 'shop', version: '1.0.0' }), [i1]);
    assert.deepEqual(await list({ active: true }), [i4, i3, i1]);
    assert.deepEqual(await list({ active: true, app: 'shop' }), [i4, i1]);
    assert.deepEqual(await list({ active: true, version: '1.1.0' }), []);
    assert.deepEqual(await list({ active: false }), [i4, i3, i2, i1], 'only `active: true` filters');
    assert.deepEqual(await list({ app: 'none' }), []);
  });

  withStore('concurrent insertHalt of one version: exactly one record and one entry', async (store) => {
    const attempts = [10, 11, 12, 13, 14].map((at) =>
      halt('shop', '2.0.0', at, { haltedBy: `replica-${at}` }),
    );
    const results = await Promise.all(attempts.map((h) => store.insertHalt(h, haltEntry(h))));
    const won = results.filter((r) => r !== undefined);
    assert.equal(won.length, 1);
    const winner = attempts.find((h) => h.haltedBy === won[0]!.haltedBy)!;
    assert.deepEqual(await store.listHalts(), won);
    await assertChainEndsWith(store, [haltEntry(winner)]);
    assert.equal((await store.auditHead())?.id, 1);

    const lifts = await Promise.all(
      [1, 2, 3, 4, 5].map((k) =>
        store.liftHalt('shop', '2.0.0', { by: `op${k}`, at: 20 + k, reason: 'go' }, entry(20 + k)),
      ),
    );
    assert.equal(lifts.filter((r) => r !== undefined).length, 1, 'concurrent lifts: exactly one');
    assert.equal((await store.auditHead())?.id, 2);
    assert.deepEqual(await store.listHalts({ active: true }), []);
  });

  withStore(
    'insertHalt and liftHalt change nothing when their audit entry cannot be stored',
    async (store) => {
      const h = halt('shop', '1.0.0', 1);
      await assert.rejects(store.insertHalt(h, unstorableEntry(1)));
      assert.deepEqual(await store.listHalts(), []);
      assert.equal(await store.auditHead(), undefined);
      const h1 = (await store.insertHalt(h, haltEntry(h)))!;
      const head = await headOf(store);
      await assert.rejects(
        store.liftHalt('shop', '1.0.0', { by: 'a', at: 2, reason: 'r' }, unstorableEntry(2)),
      );
      assert.deepEqual(await store.listHalts({ active: true }), [h1]);
      await assertNoEntrySince(store, head, 'a failed lift');
    },
  );
}
