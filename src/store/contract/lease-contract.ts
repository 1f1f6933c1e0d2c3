import assert from 'node:assert/strict';
import type { AcquireOptions, DeploymentRecord, LockRecord } from '../types.ts';
import { deployment } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const holder = (serverId: string, replica: string | null = 'host:7070') => ({ serverId, replica, pid: 42 });

const lease = (deploymentId: string, at: number, over: Partial<LockRecord> = {}): LockRecord => ({
  instance: 'a',
  owner: `alice (${deploymentId})`,
  deploymentId,
  acquiredAt: at,
  expiresAt: at + 100,
  ...over,
});

/** Settles the displaced deployment as the deployer does, with an audit entry naming it. */
const supersede: AcquireOptions['supersede'] = (d: DeploymentRecord, now: number) => ({
  deployment: { ...d, status: 'failed', finishedAt: now, updatedAt: now, error: { code: 'DEPLOYMENT_FAILED', message: 'superseded, lease expired' } },
  audit: { at: now, actor: d.actor, action: 'deploy.failed', subject: d.instance, instance: d.instance, details: { deployment: d.id } },
});

/** Leases: who holds them, heartbeats, taking over a dead incarnation's, settling a superseded deployment. */
export function leaseContract(withStore: WithStore) {
  withStore('a lease keeps its holder and heartbeat; old leases without them read back without them', async (store) => {
    const withHolder = lease('d1', 0, { holder: holder('srv-1'), heartbeatAt: 0 });
    assert.deepEqual(await store.acquireLock(withHolder, 0), { ok: true, lock: withHolder });
    assert.deepEqual(await store.getLock('a'), withHolder);
    const renewed = { ...withHolder, expiresAt: 150, heartbeatAt: 50 };
    assert.equal((await store.acquireLock(renewed, 50)).ok, true);
    assert.deepEqual(await store.getLock('a'), renewed, 'a renewal moves the heartbeat');
    await store.releaseLock('a', withHolder.owner);
    const bare = lease('d2', 200);
    await store.acquireLock(bare, 200);
    assert.deepEqual(await store.getLock('a'), bare);
  });

  withStore('a live lease is taken only from the server id named in takeFrom', async (store) => {
    await store.acquireLock(lease('d1', 0, { holder: holder('srv-old') }), 0);
    const mine = lease('d1', 10, { owner: 'recovery (d1)', holder: holder('srv-new') });
    const refused = await store.acquireLock(mine, 10, { takeFrom: 'srv-other' });
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? undefined : refused.holder.holder?.serverId, 'srv-old');
    assert.equal((await store.acquireLock(mine, 10)).ok, false, 'no takeFrom: a live lease stays');
    assert.equal((await store.acquireLock(mine, 10, { takeFrom: 'srv-old' })).ok, true);
    assert.equal((await store.getLock('a'))?.holder?.serverId, 'srv-new');
  });

  withStore('taking an expired lease settles the running deployment that held it, with its audit entry', async (store) => {
    await store.insertDeployment(deployment('d1', 'a', 0));
    await store.acquireLock(lease('d1', 0), 0);
    const live = await store.acquireLock(lease('d2', 50, { owner: 'bob (d2)' }), 50, { supersede });
    assert.equal(live.ok, false, 'a live lease is not taken');
    assert.equal((await store.getDeployment('d1'))?.status, 'running');

    const taken = await store.acquireLock(lease('d2', 150, { owner: 'bob (d2)' }), 150, { supersede });
    assert.equal(taken.ok, true);
    assert.equal(taken.ok && taken.superseded?.id, 'd1');
    const d1 = await store.getDeployment('d1');
    assert.equal(d1?.status, 'failed');
    assert.equal(d1?.error?.message, 'superseded, lease expired');
    assert.deepEqual((await store.listDeployments({ status: 'running' })).map((d) => d.id), []);
    const [last] = await store.listAudit({ limit: 1 });
    assert.equal(last?.action, 'deploy.failed');
    assert.deepEqual(last?.details, { deployment: 'd1' });
  });

  withStore('a renewal, a finished deployment or a recovery of the same deployment settles nothing', async (store) => {
    await store.insertDeployment(deployment('d1', 'a', 0));
    await store.acquireLock(lease('d1', 0, { holder: holder('srv-old') }), 0);
    const recovery = await store.acquireLock(lease('d1', 150, { owner: 'recovery (d1)' }), 150, { supersede });
    assert.equal(recovery.ok && recovery.superseded, undefined);
    assert.equal((await store.getDeployment('d1'))?.status, 'running', 'the same deployment is recovered, not superseded');
    const done = { ...(await store.getDeployment('d1'))!, status: 'succeeded' as const };
    await store.updateDeployment(done);
    const next = await store.acquireLock(lease('d2', 300, { owner: 'bob (d2)' }), 300, { supersede });
    assert.equal(next.ok && next.superseded, undefined);
    assert.equal((await store.getDeployment('d1'))?.status, 'succeeded');
    assert.equal((await store.listAudit()).length, 0);
  });

  withStore('a supersede that throws leaves the lease and the deployment as they were', async (store) => {
    await store.insertDeployment(deployment('d1', 'a', 0));
    await store.acquireLock(lease('d1', 0), 0);
    await assert.rejects(
      store.acquireLock(lease('d2', 150, { owner: 'bob (d2)' }), 150, {
        supersede: () => {
          throw new Error('boom');
        },
      }),
      /boom/,
    );
    assert.equal((await store.getLock('a'))?.deploymentId, 'd1');
    assert.equal((await store.getDeployment('d1'))?.status, 'running');
  });
}
