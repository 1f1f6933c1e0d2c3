import assert from 'node:assert/strict';
import { problem } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/** Problems reported against releases. */
export function problemContract(withStore: WithStore) {
  withStore('problems get ids 1, 2, 3…, start open, and read back equal', async (store) => {
    const p1 = await store.insertProblem(
      problem('shop', '1.0.0', 10, { details: 'stack trace', source: 'rollback', reportedBy: 'system' }),
    );
    assert.deepEqual(p1, {
      id: 1,
      app: 'shop',
      version: '1.0.0',
      title: 'broken at 10',
      details: 'stack trace',
      status: 'open',
      source: 'rollback',
      reportedBy: 'system',
      reportedAt: 10,
      resolvedBy: null,
      resolvedAt: null,
      resolution: null,
    });
    const p2 = await store.insertProblem(problem('shop', '1.0.0', 20));
    const p3 = await store.insertProblem(problem('blog', '2.0.0', 30));
    assert.deepEqual([p2.id, p3.id], [2, 3]);
    assert.deepEqual(await store.getProblem(1), p1);
    assert.deepEqual(await store.getProblem(3), p3);
    assert.equal(await store.getProblem(4), undefined);
    assert.equal(await store.getProblem(0), undefined);
  });

  withStore('resolveProblem resolves an open problem once', async (store) => {
    await store.insertProblem(problem('shop', '1.0.0', 10));
    await store.insertProblem(problem('shop', '1.0.0', 20));
    const resolved = await store.resolveProblem(1, 'alice', 50, 'fixed in 1.0.1');
    const expected = {
      ...problem('shop', '1.0.0', 10),
      id: 1,
      status: 'resolved',
      resolvedBy: 'alice',
      resolvedAt: 50,
      resolution: 'fixed in 1.0.1',
    };
    assert.deepEqual(resolved, expected);
    assert.deepEqual(await store.getProblem(1), expected);
    assert.equal(await store.resolveProblem(1, 'bob', 60, 'again'), undefined, 'already resolved');
    assert.deepEqual(await store.getProblem(1), expected, 'a second resolve changes nothing');
    assert.equal(await store.resolveProblem(99, 'bob', 60, null), undefined, 'no such problem');
    const noNote = await store.resolveProblem(2, 'bob', 70, null);
    assert.deepEqual([noNote?.status, noNote?.resolvedBy, noNote?.resolution], ['resolved', 'bob', null]);
  });

  withStore('listProblems newest first, filtered by app, version and status', async (store) => {
    await store.insertProblem(problem('shop', '1.0.0', 10));
    await store.insertProblem(problem('shop', '1.1.0', 20));
    await store.insertProblem(problem('blog', '1.0.0', 30));
    await store.insertProblem(problem('shop', '1.0.0', 40));
    await store.resolveProblem(4, 'alice', 50, null);
    const ids = async (f: Parameters<typeof store.listProblems>[0]) =>
      (await store.listProblems(f)).map((p) => p.id);
    assert.deepEqual(await ids(undefined), [4, 3, 2, 1]);
    assert.deepEqual(await ids({ app: 'shop' }), [4, 2, 1]);
    assert.deepEqual(await ids({ version: '1.0.0' }), [4, 3, 1]);
    assert.deepEqual(await ids({ app: 'shop', version: '1.0.0' }), [4, 1]);
    assert.deepEqual(await ids({ status: 'open' }), [3, 2, 1]);
    assert.deepEqual(await ids({ status: 'resolved' }), [4]);
    assert.deepEqual(await ids({ app: 'shop', version: '1.0.0', status: 'open' }), [1]);
    assert.deepEqual(await ids({ app: 'none' }), []);
  });
}
