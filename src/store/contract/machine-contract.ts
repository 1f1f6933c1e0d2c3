import assert from 'node:assert/strict';
import type { JoinTokenRecord, MachineRecord } from '../machine-records.ts';
import { assertChainEndsWith, assertNoEntrySince, headOf, unstorableEntry } from './audit-assertions.ts';
import { entry } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const joinToken = (id: string, over: Partial<JoinTokenRecord> = {}): JoinTokenRecord => ({
  id,
  hash: `h-${id}`,
  createdAt: 10,
  createdBy: 'admin',
  expiresAt: 1000,
  maxUses: null,
  uses: 0,
  revokedAt: null,
  revokedBy: null,
  ...over,
});

const machine = (name: string, over: Partial<MachineRecord> = {}): MachineRecord => ({
  name,
  labels: { role: 'web' },
  address: '10.0.0.2',
  agentVersion: '0.1.0',
  protocolVersion: 1,
  joinedAt: 100,
  lastHeartbeat: null,
  status: 'active',
  credentialHash: `c-${name}`,
  credentialRotatedAt: 100,
  joinToken: 'jt_1',
  ...over,
});

const joinEntry = (name: string, at = 100) => entry(at, { action: 'machine.join', subject: `machine:${name}` });

/** Join tokens and machines (issue 17): one use per join, one live machine per name, secrets only as hashes. */
export function machineContract(withStore: WithStore) {
  withStore('join tokens are stored with their entry, found by hash, listed oldest first, revoked once', async (store) => {
    const b = joinToken('jt_b', { createdAt: 20, maxUses: 1 });
    const a = joinToken('jt_a', { createdAt: 20 });
    await store.insertJoinToken(b, entry(20, { action: 'join-token.create' }));
    await store.insertJoinToken(a, entry(21, { action: 'join-token.create' }));
    await assertChainEndsWith(store, [entry(20, { action: 'join-token.create' }), entry(21, { action: 'join-token.create' })]);
    assert.deepEqual(await store.findJoinTokenByHash('h-jt_b'), b);
    assert.equal(await store.findJoinTokenByHash('nope'), undefined);
    assert.deepEqual(await store.listJoinTokens(), [a, b]);

    const revoked = await store.revokeJoinToken('jt_a', 'alice', 30, entry(30, { action: 'join-token.revoke' }));
    assert.deepEqual(revoked, { ...a, revokedAt: 30, revokedBy: 'alice' });
    const head = await headOf(store);
    assert.equal(await store.revokeJoinToken('jt_a', 'bob', 31, entry(31)), undefined, 'already revoked');
    assert.equal(await store.revokeJoinToken('jt_zz', 'bob', 31, entry(31)), undefined, 'no such token');
    await assertNoEntrySince(store, head, 'a refused revoke');
    await assert.rejects(store.insertJoinToken(joinToken('jt_c'), unstorableEntry(40)));
    assert.equal(await store.findJoinTokenByHash('h-jt_c'), undefined, 'a token whose entry cannot be stored is not stored');
  });

  withStore('a join uses the token once, stores the machine with its entry; refusals change nothing', async (store) => {
    await store.insertJoinToken(joinToken('jt_1', { maxUses: 1 }), entry(10));
    await store.insertJoinToken(joinToken('jt_2', { revokedAt: 50, revokedBy: 'admin' }), entry(11));
    await store.insertJoinToken(joinToken('jt_3', { expiresAt: 100 }), entry(12));
    await store.insertJoinToken(joinToken('jt_4'), entry(13));
    const web1 = machine('web-1');
    assert.deepEqual(await store.joinMachine({ tokenHash: 'h-jt_1', now: 100 }, web1, joinEntry('web-1')), { ok: true, machine: web1 });
    await assertChainEndsWith(store, [joinEntry('web-1')]);
    assert.equal((await store.findJoinTokenByHash('h-jt_1'))!.uses, 1);

    const head = await headOf(store);
    const refused = async (hash: string, name: string, reason: string) =>
      assert.deepEqual(await store.joinMachine({ tokenHash: hash, now: 100 }, machine(name, { credentialHash: `c2-${name}` }), joinEntry(name)), { ok: false, reason }, `${hash} ${name}`);
    await refused('h-jt_1', 'web-2', 'token'); // used up
    await refused('h-jt_2', 'web-2', 'token'); // revoked
    await refused('h-jt_3', 'web-2', 'token'); // expired: expiresAt is not after now
    await refused('h-none', 'web-2', 'token'); // unknown
    await refused('h-jt_4', 'web-1', 'name-taken');
    await assertNoEntrySince(store, head, 'refused joins');
    assert.equal((await store.findJoinTokenByHash('h-jt_4'))!.uses, 0, 'a refused name gives the use back');
    assert.deepEqual(await store.listMachines(), [web1]);
    await assert.rejects(store.joinMachine({ tokenHash: 'h-jt_4', now: 100 }, machine('web-3', { credentialHash: 'c-3' }), unstorableEntry(100)));
    assert.equal(await store.getMachine('web-3'), undefined, 'a join whose entry cannot be stored is not stored');
    assert.equal((await store.findJoinTokenByHash('h-jt_4'))!.uses, 0);
  });

  withStore('machines: found by name and by credential hash, changed with or without an entry; a removed name can join again', async (store) => {
    await store.insertJoinToken(joinToken('jt_1'), entry(10));
    await store.joinMachine({ tokenHash: 'h-jt_1', now: 100 }, machine('web-2'), joinEntry('web-2'));
    await store.joinMachine({ tokenHash: 'h-jt_1', now: 100 }, machine('db-1', { labels: {} }), joinEntry('db-1'));
    assert.deepEqual((await store.listMachines()).map((m) => m.name), ['db-1', 'web-2']);
    assert.equal((await store.findMachineByCredentialHash('c-web-2'))?.name, 'web-2');

    const head = await headOf(store);
    const beat = await store.updateMachine('web-2', { lastHeartbeat: 150, address: '10.0.0.9', agentVersion: '0.2.0' }, null);
    assert.deepEqual(beat, machine('web-2', { lastHeartbeat: 150, address: '10.0.0.9', agentVersion: '0.2.0' }));
    await assertNoEntrySince(store, head, 'a heartbeat');
    const drained = await store.updateMachine('web-2', { status: 'draining' }, entry(160, { action: 'machine.drain' }));
    assert.equal(drained?.status, 'draining');
    await assertChainEndsWith(store, [entry(160, { action: 'machine.drain' })]);
    assert.equal(await store.updateMachine('nope', { status: 'removed' }, entry(170)), undefined);
    await assertChainEndsWith(store, [entry(160, { action: 'machine.drain' })]);

    const rotated = await store.updateMachine('web-2', { credentialHash: 'c-new', credentialRotatedAt: 180 }, entry(180));
    assert.equal(rotated?.credentialHash, 'c-new');
    assert.equal(await store.findMachineByCredentialHash('c-web-2'), undefined, 'the old credential finds nothing');

    assert.deepEqual(await store.joinMachine({ tokenHash: 'h-jt_1', now: 190 }, machine('web-2', { credentialHash: 'c-x' }), joinEntry('web-2')), { ok: false, reason: 'name-taken' }, 'a draining machine keeps its name');
    await store.updateMachine('web-2', { status: 'removed' }, entry(200));
    const again = machine('web-2', { credentialHash: 'c-again', joinedAt: 210, labels: { role: 'api' } });
    assert.deepEqual(await store.joinMachine({ tokenHash: 'h-jt_1', now: 210 }, again, joinEntry('web-2', 210)), { ok: true, machine: again });
    assert.deepEqual(await store.getMachine('web-2'), again);
  });

  withStore('racing joins: one wins the last use of a token, one wins a name', async (store) => {
    await store.insertJoinToken(joinToken('jt_once', { maxUses: 1 }), entry(10));
    await store.insertJoinToken(joinToken('jt_many'), entry(11));
    const last = await Promise.all(['a', 'b', 'c'].map((n) => store.joinMachine({ tokenHash: 'h-jt_once', now: 100 }, machine(n), joinEntry(n))));
    assert.equal(last.filter((r) => r.ok).length, 1, JSON.stringify(last));
    const name = await Promise.all(['x', 'y', 'z'].map((c) => store.joinMachine({ tokenHash: 'h-jt_many', now: 100 }, machine('same', { credentialHash: c }), joinEntry('same'))));
    assert.equal(name.filter((r) => r.ok).length, 1, JSON.stringify(name));
    assert.deepEqual(name.filter((r) => !r.ok), [{ ok: false, reason: 'name-taken' }, { ok: false, reason: 'name-taken' }]);
    assert.equal((await store.findJoinTokenByHash('h-jt_many'))!.uses, 1);
  });
}
