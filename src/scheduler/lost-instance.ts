import { randomUUID } from 'node:crypto';
import { isCutoverError, systemActor, withReason } from '../shared/index.ts';
import type { Clock, Logger } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { Deployer, Runtime } from '../deploy/index.ts';

/** The actor of `instance.lost` audit entries. */
export const AGENT_SYNC_ACTOR = 'system';
/** The actor of the deployment that serves a lost instance's recorded version again. */
export const RECOVERY_ACTOR = 'recovery';

/**
 * What the server does when the agent does not know an instance the record says serves (its
 * state files were reset or lost), in two steps:
 *
 * 1. `onLost`: under the instance's lease it routes the hosts again, so they answer 503 with
 *    Retry-After instead of 404, and records the truth: no active colour and no slots, the version
 *    kept (`cutover status` says `needs-deploy`), with an `instance.lost` audit entry holding the
 *    record as it was.
 * 2. `redeploy`: it starts a deployment of the recorded version through the deployer (actor
 *    `recovery`), which builds the slot's full spec, takes the lease, health-checks and flips like
 *    any deploy, with its own audit entries (`changing` while it runs). When a deployment holds
 *    the lease it returns false and the health watcher tries again next pass.
 *
 * `redeploy` starts only while the instance's last event is still its `instance.lost` entry: once
 * any deployment of it was created since (this one, or an operator's), it is not started again, so
 * a recorded version that fails its health checks is not retried forever. The decision is read from
 * the store, so a restarted server or another replica picks up where this one stopped.
 */
export function createLostInstanceHandler(deps: {
  store: Store;
  runtime: Pick<Runtime, 'ensureInstance'>;
  deployer: Pick<Deployer, 'deploy'>;
  clock: Clock;
  log: Logger;
}) {
  const { store, runtime, deployer, clock, log } = deps;

  async function redeploy(instance: InstanceRecord): Promise<boolean> {
    const version = instance.currentVersion;
    if (instance.activeColor !== null || version === null) return false;
    const [lost] = await store.listAudit({ instance: instance.name, action: 'instance.lost', limit: 1 });
    if (!lost) return false;
    const [last] = await store.listDeployments({ instance: instance.name, limit: 1 });
    if (last && last.createdAt >= lost.at) return false; // a deployment was tried since: do not repeat it
    try {
      const d = await deployer.deploy({
        instance: instance.name,
        version,
        by: withReason(systemActor(RECOVERY_ACTOR), `the agent lost this instance; redeploying ${version}`),
      });
      log.warn({ instance: instance.name, version, deployment: d.id }, 'redeploying the version of an instance the agent had lost');
      return true;
    } catch (error) {
      // The lease is taken (a deployment or another replica's pass): next pass tries again.
      if (isCutoverError(error) && error.code === 'INSTANCE_LOCKED') return false;
      log.error({ instance: instance.name, version, err: (error as Error).message }, 'could not redeploy an instance the agent had lost');
      return false;
    }
  }

  async function onLost(instance: InstanceRecord): Promise<boolean> {
    const now = clock.now();
    const owner = `agent-sync:${randomUUID().slice(0, 8)}`;
    const lease = await store.acquireLock({ instance: instance.name, owner, deploymentId: 'agent-sync', acquiredAt: now, expiresAt: now + 60_000 }, now);
    if (!lease.ok) return false;
    let marked: InstanceRecord;
    try {
      const current = await store.getInstance(instance.name);
      if (!current || current.activeColor === null) return false; // changed meanwhile
      await runtime.ensureInstance(current.name, current.hosts);
      const before = { activeColor: current.activeColor, currentVersion: current.currentVersion, slots: current.slots };
      const after = { activeColor: null, currentVersion: current.currentVersion, slots: { blue: null, green: null } };
      marked = { ...current, ...after, updatedAt: clock.now() };
      await store.saveInstanceState(marked);
      const version = current.currentVersion;
      const reason = `the agent did not know this instance (its state was reset or lost); its hosts are routed again and the server redeploys ${version ?? 'nothing: no version was recorded'}`;
      await store.appendAudit(
        auditEntry(systemActor(AGENT_SYNC_ACTOR, 'admin'), 'instance.lost', current.name, { at: clock.now(), instance: current.name, app: current.app, version, reason, before, after, details: {} }),
      );
      log.error({ instance: current.name, version, color: before.activeColor }, 'the agent did not know a live instance; routed its hosts again, redeploying its version');
    } finally {
      await store.releaseLock(instance.name, owner).catch(() => false);
    }
    await redeploy(marked);
    return true;
  }

  return { onLost, redeploy };
}
