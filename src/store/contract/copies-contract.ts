import assert from 'node:assert/strict';
import {
  channel,
  deployment,
  entry,
  instance,
  move,
  moveEntry,
  problem,
  release,
  token,
} from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

/**
 * Records going in and out are copies: a caller mutating what it passed or got back never
 * changes what the store holds.
 */
export function copiesContract(withStore: WithStore) {
  withStore('returned records are copies, and so is what was stored', async (store) => {
    const inst = instance('a', {
      labels: { x: '1' },
      target: { version: '1.0.0' },
      slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd' }, green: null },
    });
    await store.insertInstance(inst);
    inst.hosts.push('evil-in');
    inst.labels.x = 'evil-in';
    const got = (await store.getInstance('a'))!;
    got.hosts.push('evil');
    got.labels.x = 'evil';
    (got.target as { version: string }).version = 'evil';
    got.slots.blue!.version = 'evil';
    const [listed] = await store.listInstances();
    listed!.hosts.push('evil');
    listed!.slots.blue!.status = 'failed';
    const saved = (await store.getInstance('a'))!;
    await store.saveInstanceState(saved);
    saved.slots.blue!.version = 'evil';
    assert.deepEqual(
      await store.getInstance('a'),
      instance('a', {
        labels: { x: '1' },
        target: { version: '1.0.0' },
        slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd' }, green: null },
      }),
    );
    const labels = { tier: 'gold' };
    await store.updateInstanceSpecs([{ name: 'a', labels }], 5, []);
    labels.tier = 'evil';
    assert.deepEqual((await store.getInstance('a'))!.labels, { tier: 'gold' });

    const rel = release('1.0.0');
    await store.insertRelease(rel);
    (rel.spec.nested as { a: number[] }).a.push(3);
    const gotRel = (await store.getRelease('shop', '1.0.0'))!;
    (gotRel.spec.nested as { a: number[] }).a.push(4);
    (await store.listReleases())[0]!.spec.version = 'evil';
    assert.deepEqual(await store.getRelease('shop', '1.0.0'), release('1.0.0'));

    await store.insertDeployment(deployment('d1', 'a', 1));
    (await store.getDeployment('d1'))!.steps[0]!.status = 'failed';
    (await store.listDeployments())[0]!.steps.push({ name: 'shift-66', status: 'done' });
    assert.deepEqual(await store.getDeployment('d1'), deployment('d1', 'a', 1));

    const tok = token('ci', 'h');
    await store.insertToken(tok);
    tok.role = 'admin';
    (await store.findTokenByHash('h'))!.role = 'admin';
    (await store.listTokens())[0]!.role = 'admin';
    assert.equal((await store.findTokenByHash('h'))!.role, 'deployer');

    const details = { list: [1] };
    const appended = await store.appendAudit(entry(1, { details, before: { v: 1 } }));
    details.list.push(2);
    appended.details.list = 'evil';
    (appended.before as { v: number }).v = 2;
    (await store.listAudit())[0]!.details.list = 'evil';
    (await store.readAuditChain(0, 1))[0]!.details.list = 'evil';
    const head = (await store.auditHead())!;
    head.id = 99;
    const [stored] = await store.readAuditChain(0, 1);
    assert.deepEqual([stored!.details, stored!.before], [{ list: [1] }, { v: 1 }]);
    assert.equal((await store.auditHead())!.id, 1);

    const ch = channel('beta');
    await store.insertChannel(ch);
    ch.policy.allowPrerelease = true;
    (await store.getChannel('beta'))!.policy.allowPrerelease = true;
    (await store.listChannels())[0]!.policy.soak = { channel: 'x', days: 1 };
    assert.deepEqual(await store.getChannel('beta'), channel('beta'));

    const m = move('shop', 'beta', null, '1.0.0');
    const moved = await store.moveChannel(m, moveEntry(m));
    if (moved.ok) moved.move.toVersion = 'evil';
    m.toVersion = 'evil';
    (await store.listChannelMoves())[0]!.toVersion = 'evil';
    (await store.listChannelPointers())[0]!.version = 'evil';
    assert.equal((await store.listChannelMoves())[0]!.toVersion, '1.0.0');
    assert.equal((await store.listChannelPointers())[0]!.version, '1.0.0');

    const p = await store.insertProblem(problem('shop', '1.0.0', 1));
    p.title = 'evil';
    (await store.getProblem(1))!.status = 'resolved';
    (await store.listProblems())[0]!.title = 'evil';
    assert.deepEqual(await store.getProblem(1), {
      ...problem('shop', '1.0.0', 1),
      id: 1,
      status: 'open',
      resolvedBy: null,
      resolvedAt: null,
      resolution: null,
    });
  });
}
