import assert from 'node:assert/strict';
import type { EdgeCertificateRecord } from '../edge-cert-records.ts';
import { assertChainEndsWith, assertNoEntrySince, headOf, unstorableEntry } from './audit-assertions.ts';
import { entry } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const cert = (host: string, over: Partial<EdgeCertificateRecord> = {}): EdgeCertificateRecord => ({
  host,
  isDefault: false,
  cert: `-----BEGIN CERTIFICATE-----\n${host}\n-----END CERTIFICATE-----\n`,
  key: { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', data: 'ZGF0YQ==' },
  hosts: [host, `*.${host}`],
  fingerprint: 'ab'.repeat(32),
  notAfter: '2027-01-01T00:00:00.000Z',
  createdAt: 1000,
  createdBy: 'alice',
  ...over,
});

/** Edge certificates: one per host, replaced whole, at most one default, each write with its audit entry. */
export function edgeCertificateContract(withStore: WithStore) {
  withStore('edge certificates: stored whole by host, listed by host, replaced by a second put, with their audit entries', async (store) => {
    assert.deepEqual(await store.listEdgeCertificates(), []);
    assert.equal(await store.getEdgeCertificate('shop.example.com'), undefined);
    const entries = [entry(1, { action: 'tls.set' }), entry(2, { action: 'tls.set' }), entry(3, { action: 'tls.set' })];
    await store.putEdgeCertificate(cert('shop.example.com'), entries[0]!);
    await store.putEdgeCertificate(cert('b.example.com'), entries[1]!);
    const renewed = cert('shop.example.com', { fingerprint: 'cd'.repeat(32), notAfter: '2027-06-01T00:00:00.000Z', createdAt: 2000, createdBy: 'bob' });
    await store.putEdgeCertificate(renewed, entries[2]!);
    assert.deepEqual(await store.listEdgeCertificates(), [cert('b.example.com'), renewed]);
    assert.deepEqual(await store.getEdgeCertificate('shop.example.com'), renewed);
    await assertChainEndsWith(store, entries);
    const got = (await store.getEdgeCertificate('shop.example.com'))!;
    got.hosts.length = 0;
    assert.equal((await store.getEdgeCertificate('shop.example.com'))!.hosts.length, 2, 'a copy');
  });

  withStore('edge certificates: a default takes the mark from the one that had it', async (store) => {
    await store.putEdgeCertificate(cert('a.example.com', { isDefault: true }), entry(1));
    await store.putEdgeCertificate(cert('b.example.com'), entry(2));
    await store.putEdgeCertificate(cert('b.example.com', { isDefault: true }), entry(3));
    assert.deepEqual((await store.listEdgeCertificates()).map((c) => [c.host, c.isDefault]), [['a.example.com', false], ['b.example.com', true]]);
    await store.putEdgeCertificate(cert('b.example.com', { isDefault: true, fingerprint: 'ef'.repeat(32) }), entry(4));
    assert.deepEqual((await store.listEdgeCertificates()).map((c) => c.isDefault), [false, true], 'the default itself renewed');
  });

  withStore('edge certificates: delete removes one with its entry; a host without one appends nothing', async (store) => {
    await store.putEdgeCertificate(cert('a.example.com'), entry(1));
    const head = await headOf(store);
    assert.equal(await store.deleteEdgeCertificate('nobody.example.com', entry(2)), false);
    await assertNoEntrySince(store, head, 'deleting nothing');
    const removal = entry(3, { action: 'tls.remove' });
    assert.equal(await store.deleteEdgeCertificate('a.example.com', removal), true);
    assert.deepEqual(await store.listEdgeCertificates(), []);
    await assertChainEndsWith(store, [removal]);
  });

  withStore('edge certificates: an entry that cannot be stored takes the certificate with it', async (store) => {
    await assert.rejects(store.putEdgeCertificate(cert('a.example.com'), unstorableEntry(1)));
    assert.deepEqual(await store.listEdgeCertificates(), []);
    await store.putEdgeCertificate(cert('a.example.com'), entry(2));
    await assert.rejects(store.deleteEdgeCertificate('a.example.com', unstorableEntry(3)));
    assert.equal((await store.listEdgeCertificates()).length, 1);
  });

  withStore('edge certificates: a rotation replaces the sealed keys of the hosts named, nothing else', async (store) => {
    await store.putEdgeCertificate(cert('a.example.com'), entry(1));
    await store.putEdgeCertificate(cert('b.example.com'), entry(2));
    const k2 = { keyId: 'k2', iv: 'aXYy', tag: 'dGFnMg==', data: 'ZGF0YTI=' };
    await store.resealEdgeCertificateKeys([{ host: 'a.example.com', key: k2 }, { host: 'gone.example.com', key: k2 }]);
    assert.deepEqual(await store.listEdgeCertificates(), [cert('a.example.com', { key: k2 }), cert('b.example.com')]);
  });
}
