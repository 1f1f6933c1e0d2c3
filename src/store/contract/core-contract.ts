import assert from 'node:assert/strict';
import { deployment, release, token } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** Releases, deployments, locks and tokens. */
export function coreContract(withStore: WithStore) {
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

  withStore('releases created at the same time list newest inserted first', async (store) => {
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) await store.insertRelease(release(v, 1000));
    assert.deepEqual(
      (await store.listReleases()).map((r) => r.version),
      ['1.0.2', '1.0.1', '1.0.0'],
    );
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
    assert.equal(await store.getDeployment('nope'), undefined);
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
    assert.deepEqual(await store.listDeployments({ limit: 0 }), []);
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
    assert.deepEqual(first, { ok: true, lock: lock('alice', 0) });
    const second = await store.acquireLock(lock('bob', 50), 50);
    assert.deepEqual(second, { ok: false, holder: lock('alice', 0) });
    assert.equal((await store.acquireLock(lock('alice', 60), 60)).ok, true, 'the holder may renew');
    assert.equal(await store.releaseLock('a', 'bob'), false, 'only the holder releases');
    const expired = await store.acquireLock(lock('bob', 160), 160);
    assert.equal(expired.ok, true, 'an expired lease can be taken');
    assert.deepEqual(await store.getLock('a'), lock('bob', 160));
    assert.equal(await store.releaseLock('a', 'bob'), true);
    assert.equal(await store.getLock('a'), undefined);
    const concurrent = await Promise.all(['x', 'y', 'z'].map((o) => store.acquireLock(lock(o, 200), 200)));
    assert.equal(concurrent.filter((r) => r.ok).length, 1);
  });

  withStore(
    'tokens: found by hash, names and hashes unique, listed by name, deleted by name',
    async (store) => {
      assert.equal(await store.countTokens(), 0);
      assert.deepEqual(await store.listTokens(), []);
      assert.equal(await store.insertToken(token('ops', 'h1', { role: 'admin', createdBy: 'system' })), true);
      assert.equal(await store.insertToken(token('ops', 'h2')), false, 'name taken');
      assert.equal(await store.insertToken(token('other', 'h1')), false, 'hash taken');
      assert.equal(await store.insertToken(token('ci', 'h3', { createdAt: 5 })), true);
      assert.deepEqual(
        await store.findTokenByHash('h1'),
        token('ops', 'h1', { role: 'admin', createdBy: 'system' }),
      );
      assert.equal(await store.findTokenByHash('nope'), undefined);
      assert.deepEqual(await store.listTokens(), [
        token('ci', 'h3', { createdAt: 5 }),
        token('ops', 'h1', { role: 'admin', createdBy: 'system' }),
      ]);
      assert.equal(await store.countTokens(), 2);
      assert.equal(await store.deleteToken('ops'), true);
      assert.equal(await store.deleteToken('ops'), false, 'already gone');
      assert.equal(await store.deleteToken('nobody'), false);
      assert.equal(await store.findTokenByHash('h1'), undefined);
      assert.equal(await store.countTokens(), 1);
      assert.equal(
        await store.insertToken(token('ops', 'h1')),
        true,
        'a deleted name and hash can be reused',
      );
    },
  );

  withStore('tokens: a publisher token keeps its channels, in order; other tokens have none', async (store) => {
    const ci = token('ci', 'hp', { role: 'publisher', channels: ['staging', 'test'] });
    assert.equal(await store.insertToken(ci), true);
    assert.equal(await store.insertToken(token('ops', 'ho')), true);
    assert.deepEqual(await store.findTokenByHash('hp'), ci);
    const listed = await store.listTokens();
    assert.deepEqual(listed, [ci, token('ops', 'ho')]);
    assert.equal('channels' in listed[1]!, false, 'no channels key for a token without channels');
  });
}
