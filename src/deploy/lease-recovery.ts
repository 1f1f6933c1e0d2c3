import type { DeploymentRecord, LeaseHolder, LockRecord } from '../store/index.ts';
import type { RuntimeInstance, RuntimeSlot } from './runtime.ts';

/** Whether this server may settle a `running` deployment it does not run itself, and how. */
export type RecoveryVerdict =
  | { recover: true; why: 'lease expired' | 'previous incarnation' | 'holder dead' | 'no lease'; takeFrom?: string }
  | { recover: false; why: string };

/**
 * Decides from plain data whether `me` may settle deployment `d` that is `running` in the store but
 * not in this process. Only a dead holder's deployment is settled:
 * - its lease expired (the holder stopped renewing it: renewals happen every few seconds while it runs);
 * - or the lease is held by an earlier incarnation of this same replica (same host, address and API
 *   port: this process bound that port, so the one that held it is gone), taken over at once;
 * - or its holder is known dead now (`holderAlive` false: on PostgreSQL, the replica's session lock
 *   is gone), taken over at once; `undefined` (cannot tell) waits for the lease to expire;
 * - or it has no lease any more (the holder released it and died before recording the end), once
 *   `graceMs` passed since its last update, so a live holder between the two writes is not raced.
 * A live peer's lease is never touched: that is what keeps a replica's start from failing another
 * replica's deployment.
 */
export function recoveryVerdict(
  d: DeploymentRecord,
  lock: LockRecord | undefined,
  me: LeaseHolder,
  now: number,
  graceMs: number,
  holderAlive?: boolean,
): RecoveryVerdict {
  if (!lock || lock.deploymentId !== d.id) {
    return d.updatedAt + graceMs <= now ? { recover: true, why: 'no lease' } : { recover: false, why: 'its lease was just released' };
  }
  const holder = lock.holder;
  // Before the self-check: this server's own expired lease is one it took and could not act on
  // (its caller never asks about a deployment this process runs).
  if (lock.expiresAt <= now) return { recover: true, why: 'lease expired' };
  if (holder?.serverId === me.serverId) return { recover: false, why: 'this server runs it' };
  if (holder && holder.replica !== null && holder.replica === me.replica) {
    return { recover: true, why: 'previous incarnation', takeFrom: holder.serverId };
  }
  if (holder && holderAlive === false) return { recover: true, why: 'holder dead', takeFrom: holder.serverId };
  const by = holder ? `server ${holder.serverId} (${holder.replica ?? 'unknown address'}, pid ${holder.pid})` : lock.owner;
  return { recover: false, why: `held by ${by} until ${new Date(lock.expiresAt).toISOString()}` };
}

/**
 * The slot of `seen` that deployment `d` deploys to, when the runtime still has it: the colour holds
 * `d`'s version, started by `startedBy` when the runtime reports who started it. That is `d` itself
 * for a start-and-flip, and for a flip back to a warm slot the deployment that started that slot (the
 * instance record keeps it), or just the version when that is not known. A colour alone proves
 * nothing: every deployment reuses the two colours.
 */
export function slotOf(d: DeploymentRecord, seen: RuntimeInstance | undefined, startedBy: string | undefined): RuntimeSlot | undefined {
  const slot = seen?.slots.find((s) => s.color === d.toColor);
  if (!slot || slot.version !== d.toVersion) return undefined;
  return slot.deploymentId === undefined || startedBy === undefined || slot.deploymentId === startedBy ? slot : undefined;
}

/** Whether users are on `d`'s release: the active colour is the slot `d` deploys to (see {@link slotOf}). */
export function servesDeployment(d: DeploymentRecord, seen: RuntimeInstance | undefined, startedBy: string | undefined): boolean {
  return seen?.active === d.toColor && slotOf(d, seen, startedBy) !== undefined;
}
