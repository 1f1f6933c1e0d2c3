import type { LockRecord } from './types.ts';

/** A `locks` row as both SQL dialects return it (same column names; numbers as Number or bigint). */
type LockRow = Record<string, unknown>;

/** `locks` row → lease; the holder and heartbeat columns are empty for a lease taken without them. */
export const toLock = (r: LockRow): LockRecord => ({
  instance: r.instance as string,
  owner: r.owner as string,
  deploymentId: r.deployment_id as string,
  acquiredAt: Number(r.acquired_at),
  expiresAt: Number(r.expires_at),
  ...(typeof r.server_id === 'string'
    ? { holder: { serverId: r.server_id, replica: (r.replica as string | null) ?? null, pid: Number(r.holder_pid ?? 0) } }
    : {}),
  ...(r.heartbeat_at === null || r.heartbeat_at === undefined ? {} : { heartbeatAt: Number(r.heartbeat_at) }),
});

/** The `locks` columns, in the order of {@link lockValues}. */
export const LOCK_COLUMNS = 'instance, owner, deployment_id, acquired_at, expires_at, server_id, replica, holder_pid, heartbeat_at';

/** A lease's column values, in the order of {@link LOCK_COLUMNS} (null where it has no holder or heartbeat). */
export const lockValues = (l: LockRecord): (string | number | null)[] => [
  l.instance,
  l.owner,
  l.deploymentId,
  l.acquiredAt,
  l.expiresAt,
  l.holder?.serverId ?? null,
  l.holder?.replica ?? null,
  l.holder?.pid ?? null,
  l.heartbeatAt ?? null,
];
