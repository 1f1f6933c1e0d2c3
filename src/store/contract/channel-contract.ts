import assert from 'node:assert/strict';
import { verifyAuditChain } from '../audit-chain.ts';
import { channel, move, moveEntry } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** Channels, channel pointers and their move history. */
export function channelContract(withStore: WithStore) {
  withStore(
    'channels insert once, read back equal, list by name, update only what may change',
    async (store) => {
      const stable = channel('stable', {
        builtIn: true,
        policy: { soak: { channel: 'release', days: 14 }, blockOnOpenProblems: true, allowPrerelease: false },
      });
      assert.equal(await store.insertChannel(stable), true);
      assert.equal(
        await store.insertChannel(
          channel('beta', { policy: { soak: null, blockOnOpenProblems: false, allowPrerelease: true } }),
        ),
        true,
      );
      assert.equal(await store.insertChannel(channel('stable')), false, 'name taken');
      assert.equal(await store.insertChannel(channel('canary-2')), true);
      assert.deepEqual(await store.getChannel('stable'), stable);
      assert.equal(await store.getChannel('nope'), undefined);
      assert.deepEqual(
        (await store.listChannels()).map((c) => c.name),
        ['beta', 'canary-2', 'stable'],
      );
      await store.updateChannel({
        ...stable,
        description: 'soaked',
        policy: { soak: { channel: 'release', days: 7 }, blockOnOpenProblems: false, allowPrerelease: false },
        updatedAt: 50,
        builtIn: false,
        createdAt: 999,
        createdBy: 'mallory',
      });
      assert.deepEqual(await store.getChannel('stable'), {
        ...stable,
        description: 'soaked',
        policy: { soak: { channel: 'release', days: 7 }, blockOnOpenProblems: false, allowPrerelease: false },
        updatedAt: 50,
      });
      await store.updateChannel(channel('ghost'));
      assert.equal(await store.getChannel('ghost'), undefined, 'updating a missing channel creates nothing');
    },
  );

  withStore('moveChannel is a compare-and-set that records the move and its audit entry', async (store) => {
    const first = move('shop', 'beta', null, '1.0.0', 10, { actor: 'ci', reason: 'first build' });
    const r1 = await store.moveChannel(first, moveEntry(first));
    assert.equal(r1.ok, true);
    assert.deepEqual(r1.ok && { ...r1.move, id: 0 }, { ...first, id: 0 });
    assert.deepEqual(await store.listChannelPointers(), [
      { app: 'shop', channel: 'beta', version: '1.0.0', movedAt: 10, movedBy: 'ci' },
    ]);
    const head = await store.auditHead();
    assert.equal(head?.id, 1);
    const [logged] = await store.readAuditChain(0, 10);
    assert.deepEqual(
      [logged!.action, logged!.app, logged!.version, logged!.before, logged!.after],
      ['channel.move', 'shop', '1.0.0', null, '1.0.0'],
    );

    // Mismatches change nothing and report where the pointer is.
    const stale = move('shop', 'beta', null, '2.0.0', 20);
    assert.deepEqual(await store.moveChannel(stale, moveEntry(stale)), { ok: false, current: '1.0.0' });
    const wrong = move('shop', 'beta', '0.9.0', '2.0.0', 20);
    assert.deepEqual(await store.moveChannel(wrong, moveEntry(wrong)), { ok: false, current: '1.0.0' });
    const nowhere = move('shop', 'stable', '1.0.0', '2.0.0', 20);
    assert.deepEqual(
      await store.moveChannel(nowhere, moveEntry(nowhere)),
      { ok: false, current: null },
      'no pointer row: current is null',
    );
    assert.deepEqual(await store.auditHead(), head);
    assert.equal((await store.listChannelMoves()).length, 1);
    assert.deepEqual(
      (await store.listChannelPointers()).map((p) => p.version),
      ['1.0.0'],
    );

    const second = move('shop', 'beta', '1.0.0', '1.1.0', 30, { forced: true, reason: 'hotfix' });
    const r2 = await store.moveChannel(second, moveEntry(second));
    assert.equal(r2.ok, true);
    assert.ok(r2.ok && r1.ok && r2.move.id > r1.move.id, 'move ids increase');
    assert.deepEqual(r2.ok && { ...r2.move, id: 0 }, { ...second, id: 0 });
    assert.deepEqual(await store.listChannelPointers({ app: 'shop', channel: 'beta' }), [
      { app: 'shop', channel: 'beta', version: '1.1.0', movedAt: 30, movedBy: 'admin' },
    ]);
    const moves = await store.listChannelMoves();
    assert.deepEqual(
      moves.map((m) => ({ ...m, id: 0 })),
      [
        { ...first, id: 0 },
        { ...second, id: 0 },
      ],
      'history oldest first',
    );
    assert.deepEqual(
      moves.map((m) => m.id),
      [r1.ok && r1.move.id, r2.ok && r2.move.id],
    );
    assert.equal(verifyAuditChain(await store.readAuditChain(0, 10), await store.auditHead()).ok, true);
  });

  withStore('concurrent moves from the same version: exactly one wins', async (store) => {
    const attempts = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4'].map((v) => move('shop', 'alpha', null, v));
    const results = await Promise.all(attempts.map((m) => store.moveChannel(m, moveEntry(m))));
    const won = results.filter((r) => r.ok);
    assert.equal(won.length, 1);
    const winner = won[0]!.ok ? won[0]!.move.toVersion : '';
    for (const r of results) if (!r.ok) assert.equal(r.current, winner);
    assert.equal((await store.listChannelMoves()).length, 1);
    assert.equal((await store.auditHead())?.id, 1);
  });

  withStore(
    'pointers list by app then channel; moves filter by app, channel, and version moved from or to',
    async (store) => {
      const steps = [
        move('shop', 'beta', null, '1.0.0', 1),
        move('blog', 'stable', null, '3.0.0', 2),
        move('shop', 'alpha', null, '1.1.0', 3),
        move('shop', 'beta', '1.0.0', '1.1.0', 4),
        move('blog', 'beta', null, '1.1.0', 5),
        move('shop', 'stable', null, '1.0.0', 6),
      ];
      for (const m of steps) assert.equal((await store.moveChannel(m, moveEntry(m))).ok, true);
      const pointers = await store.listChannelPointers();
      assert.deepEqual(
        pointers.map((p) => `${p.app}/${p.channel}=${p.version}`),
        ['blog/beta=1.1.0', 'blog/stable=3.0.0', 'shop/alpha=1.1.0', 'shop/beta=1.1.0', 'shop/stable=1.0.0'],
      );
      assert.deepEqual(
        (await store.listChannelPointers({ app: 'blog' })).map((p) => p.channel),
        ['beta', 'stable'],
      );
      assert.deepEqual(
        (await store.listChannelPointers({ channel: 'beta' })).map((p) => p.app),
        ['blog', 'shop'],
      );
      assert.deepEqual(await store.listChannelPointers({ app: 'none' }), []);
      const at = async (f: Parameters<typeof store.listChannelMoves>[0]) =>
        (await store.listChannelMoves(f)).map((m) => m.at);
      assert.deepEqual(await at({}), [1, 2, 3, 4, 5, 6], 'oldest first');
      assert.deepEqual(await at({ app: 'shop' }), [1, 3, 4, 6]);
      assert.deepEqual(await at({ channel: 'beta' }), [1, 4, 5]);
      assert.deepEqual(await at({ app: 'shop', channel: 'beta' }), [1, 4]);
      assert.deepEqual(await at({ version: '1.0.0' }), [1, 4, 6], 'moved to or from the version');
      assert.deepEqual(await at({ version: '1.1.0', app: 'shop' }), [3, 4]);
      assert.deepEqual(await at({ version: '9.9.9' }), []);
    },
  );
}
