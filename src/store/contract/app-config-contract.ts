import assert from 'node:assert/strict';
import type { AppConfigVersion } from '../app-config-records.ts';
import { assertChainEndsWith, assertNoEntrySince, headOf, unstorableEntry } from './audit-assertions.ts';
import { entry } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const version = (id: number, over: Partial<AppConfigVersion> = {}): AppConfigVersion => ({
  id,
  createdAt: 1000 + id,
  actor: 'alice',
  change: `set K${id} at instance acme`,
  entries: [
    { layer: { kind: 'environment', environment: 'production' }, key: 'LOG_LEVEL', secret: false, value: `v${id}` },
    {
      layer: { kind: 'app-environment', app: 'shop', environment: 'production' },
      key: 'DATABASE_URL',
      secret: true,
      sealed: { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', data: `ZGF0YQ${id}` },
      fingerprint: '0123456789ab',
    },
  ],
  activeKeyId: 'k1',
  keyChecks: { k1: 'c1' },
  ...over,
});

/** App-config versions: numbered without gaps by compare-and-set, immutable but for rotation, pruned but never the latest. */
export function appConfigContract(withStore: WithStore) {
  withStore('app config: versions 1, 2, 3 stored whole with their audit entries; the latest by default', async (store) => {
    assert.equal(await store.getAppConfigVersion(), undefined);
    const entries = [entry(1, { action: 'app-config.set' }), entry(2, { action: 'app-config.set' }), entry(3, { action: 'secret.set' })];
    for (const id of [1, 2, 3]) assert.equal(await store.insertAppConfigVersion(version(id), entries[id - 1]!), true);
    assert.deepEqual(await store.getAppConfigVersion(), version(3));
    assert.deepEqual(await store.getAppConfigVersion(2), version(2));
    assert.equal(await store.getAppConfigVersion(9), undefined);
    assert.deepEqual((await store.listAppConfigVersions()).map((v) => v.id), [1, 2, 3]);
    await assertChainEndsWith(store, entries);
    const got = (await store.getAppConfigVersion())!;
    got.entries.length = 0;
    assert.equal((await store.getAppConfigVersion())!.entries.length, 2, 'a copy');
  });

  withStore('app config: a stale or skipping id stores nothing and appends nothing; concurrent writers of one id: one wins', async (store) => {
    await store.insertAppConfigVersion(version(1), entry(1));
    const head = await headOf(store);
    assert.equal(await store.insertAppConfigVersion(version(1, { actor: 'bob' }), entry(2)), false);
    assert.equal(await store.insertAppConfigVersion(version(3), entry(3)), false);
    await assertNoEntrySince(store, head, 'refused inserts');
    assert.equal((await store.getAppConfigVersion())!.actor, 'alice');
    const results = await Promise.all([0, 1, 2, 3].map((n) => store.insertAppConfigVersion(version(2, { actor: `r${n}` }), entry(10 + n))));
    assert.equal(results.filter(Boolean).length, 1);
    assert.deepEqual((await store.listAppConfigVersions()).map((v) => v.id), [1, 2]);
  });

  withStore('app config: an entry that cannot be stored takes the version with it', async (store) => {
    await assert.rejects(store.insertAppConfigVersion(version(1), unstorableEntry(1)));
    assert.equal(await store.getAppConfigVersion(), undefined);
    assert.equal(await store.insertAppConfigVersion(version(1), entry(2)), true);
  });

  withStore('app config: rotation rewrites sealed entries and keys in one transaction, only if no version came in between', async (store) => {
    for (const id of [1, 2]) await store.insertAppConfigVersion(version(id), entry(id));
    const resealed = (await store.listAppConfigVersions()).map((v) => ({
      ...v,
      activeKeyId: 'k2',
      keyChecks: { k2: 'c2' },
      entries: v.entries.map((e) => (e.secret ? { ...e, sealed: { ...e.sealed, keyId: 'k2' }, fingerprint: 'ba9876543210' } : e)),
    }));
    const head = await headOf(store);
    assert.equal(await store.rewriteAppConfigVersions(resealed, 1, entry(5)), false, 'version 2 came in since');
    await assertNoEntrySince(store, head, 'a stale rotation');
    const rotation = entry(6, { action: 'secret.rotate-key' });
    assert.equal(await store.rewriteAppConfigVersions(resealed.map((v) => ({ ...v, actor: 'mallory', change: 'x' })), 2, rotation), true);
    const after = await store.listAppConfigVersions();
    assert.deepEqual(after, resealed, 'entries and keys replaced; who, when and what changed kept');
    await assertChainEndsWith(store, [rotation]);
  });

  withStore('app config: pruning deletes the given versions but never the latest', async (store) => {
    for (const id of [1, 2, 3, 4]) await store.insertAppConfigVersion(version(id), entry(id));
    assert.equal(await store.deleteAppConfigVersions([1, 3, 4, 99]), 2);
    assert.deepEqual((await store.listAppConfigVersions()).map((v) => v.id), [2, 4]);
    assert.equal(await store.deleteAppConfigVersions([]), 0);
    assert.equal(await store.insertAppConfigVersion(version(5), entry(5)), true, 'numbering goes on from the latest');
  });
}
