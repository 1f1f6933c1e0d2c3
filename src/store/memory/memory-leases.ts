import type { DeploymentRecord, LockRecord, LockResult } from '../types.ts';
import { canTakeLease, displacedDeployment } from '../lease-rules.ts';
import { jsonCopy } from './memory-audit.ts';
import type { MemoryAuditLog } from './memory-audit.ts';
import type { LeaseMethods } from '../method-groups.ts';

/** Leases (the instances' locks and the named leases) for the memory store. */
export function createMemoryLeases(
  locks: Map<string, LockRecord>,
  deployments: Map<string, DeploymentRecord>,
  audit: MemoryAuditLog,
): LeaseMethods {
  return {
    async acquireLock(lock, now, options = {}): Promise<LockResult> {
      const held = locks.get(lock.instance);
      if (!canTakeLease(held, lock, now, options.takeFrom)) return { ok: false, holder: jsonCopy(held!) };
      // Settle first: a supersede that throws leaves the lease as it was (what a rollback gives).
      const displaced = displacedDeployment(held, lock);
      const running = displaced === undefined ? undefined : deployments.get(displaced);
      let superseded: DeploymentRecord | undefined;
      if (running?.status === 'running' && options.supersede) {
        const settled = options.supersede(jsonCopy(running), now);
        superseded = jsonCopy(settled.deployment);
        audit.appendAll([settled.audit]);
        deployments.set(superseded.id, jsonCopy(superseded));
      }
      locks.set(lock.instance, jsonCopy(lock));
      return { ok: true, lock: jsonCopy(lock), ...(superseded ? { superseded } : {}) };
    },
    async releaseLock(instance, owner) {
      const held = locks.get(instance);
      if (!held || held.owner !== owner) return false;
      locks.delete(instance);
      return true;
    },
    async getLock(instance) {
      const l = locks.get(instance);
      return l && jsonCopy(l);
    },
  };
}
