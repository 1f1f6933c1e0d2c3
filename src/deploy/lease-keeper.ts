import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { AcquireOptions, LeaseHolder, LockRecord, Store } from '../store/index.ts';

export interface LeaseKeeperDeps {
  store: Store;
  clock: Clock;
  lockTtlMs: number;
  /** This server process, written into every lease it takes. */
  holder: LeaseHolder;
  log?: { warn(obj: object, msg: string): void };
}

/** The message a deployment whose lease another one took (after it expired) fails with; it must not touch the runtime any more. */
export const LEASE_LOST = 'lease lost';

/** Instance leases as the deployer takes, renews and heartbeats them. */
export function createLeaseKeeper(deps: LeaseKeeperDeps) {
  const { store, clock } = deps;
  /** Renews the lease of each deployment this process runs (by id). */
  const renewers = new Map<string, () => Promise<void>>();

  function lockFor(id: string, instance: string, actor: string): LockRecord {
    const now = clock.now();
    return { instance, owner: `${actor} (${id})`, deploymentId: id, acquiredAt: now, expiresAt: now + deps.lockTtlMs, holder: deps.holder, heartbeatAt: now };
  }

  /** Takes or renews `lock`; INSTANCE_LOCKED names the holder (owner, server, expiry) otherwise. */
  async function takeLock(lock: LockRecord, acquire?: AcquireOptions): Promise<void> {
    const result = await store.acquireLock(lock, clock.now(), acquire);
    if (result.ok) {
      const d = result.superseded;
      if (d) deps.log?.warn({ deployment: d.id, instance: d.instance, by: lock.deploymentId }, `${d.kind} of ${d.toVersion} superseded: its lease expired`);
      return;
    }
    const h = result.holder;
    const on = h.holder ? ` on server ${h.holder.replica ?? h.holder.serverId} (pid ${h.holder.pid})` : '';
    throw new CutoverError(
      'INSTANCE_LOCKED',
      `instance "${lock.instance}" is locked by ${h.owner}${on} until ${new Date(h.expiresAt).toISOString()}; ` +
        `wait for deployment ${h.deploymentId} to finish (\`cutover status ${lock.instance}\`)`,
      {
        details: {
          instance: lock.instance,
          holder: h.owner,
          deploymentId: h.deploymentId,
          // Error details go on the wire as they are: times as ISO 8601, like every answer's.
          expiresAt: new Date(h.expiresAt).toISOString(),
          ...(h.holder ? { server: h.holder } : {}),
          ...(h.heartbeatAt === undefined ? {} : { heartbeatAt: new Date(h.heartbeatAt).toISOString() }),
        },
      },
    );
  }

  /**
   * Renews `lock` every third of its length while deployment `id` runs, whatever the step (an
   * artifact download, a slow health wait), so a live deployment's lease never expires. A renewal
   * that finds the lease taken (it had expired, and another deployment superseded this one) records
   * the loss in `lost` and throws it. Returns the stop.
   */
  function heartbeat(id: string, lock: LockRecord, lost: { error?: CutoverError }): () => void {
    const renew = async () => {
      try {
        const now = clock.now();
        await takeLock({ ...lock, expiresAt: now + deps.lockTtlMs, heartbeatAt: now });
      } catch (error) {
        if (isCutoverError(error) && error.code === 'INSTANCE_LOCKED') {
          lost.error ??= new CutoverError('DEPLOYMENT_FAILED', `${LEASE_LOST}: ${error.message}`, { details: { leaseLost: true, holder: error.details } });
          throw lost.error;
        }
        throw error;
      }
    };
    renewers.set(id, renew);
    const timer = setInterval(() => void renew().catch(() => undefined), Math.max(250, Math.floor(deps.lockTtlMs / 3)));
    timer.unref();
    return () => {
      clearInterval(timer);
      if (renewers.get(id) === renew) renewers.delete(id);
    };
  }

  return {
    lockFor,
    takeLock,
    heartbeat,
    /** Renews deployment `id`'s lease now (a no-op when this process does not run it). */
    renew: (id: string): Promise<void> => renewers.get(id)?.() ?? Promise.resolve(),
  };
}
