import type { LockRecord } from './types.ts';

/**
 * Whether `lock` may replace `held` at `now`: the lease is free, expired, renewed by its own owner,
 * or taken from a named dead incarnation (`takeFrom`). Every store applies this one rule inside
 * its transaction (SQLite and PostgreSQL read the row locked, then write).
 */
export function canTakeLease(held: LockRecord | undefined, lock: LockRecord, now: number, takeFrom?: string): boolean {
  if (!held) return true;
  if (held.expiresAt <= now || held.owner === lock.owner) return true;
  return takeFrom !== undefined && held.holder?.serverId === takeFrom;
}

/** The deployment whose lease is being taken over by another one (to settle it if it still runs), if any. */
export function displacedDeployment(held: LockRecord | undefined, lock: LockRecord): string | undefined {
  return held && held.deploymentId !== lock.deploymentId ? held.deploymentId : undefined;
}
