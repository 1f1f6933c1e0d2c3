// Row → record mappers of the SQLite store, one per table, as postgres-rows.ts has for PostgreSQL.
// Named `<record>FromSqlite` so no exported name is also one of postgres-rows.ts.
// Columns read as arrays (audit, instances) come with the column list they index into.
import type { SQLOutputValue } from 'node:sqlite';
import type { InstanceState } from '../instance-record.ts';
import { assertInstanceShape } from '../decode-rows.ts';
import type {
  AuditEntry,
  ChannelMove,
  ChannelPointer,
  ChannelPolicy,
  ChannelRecord,
  HaltRecord,
  HoldRecord,
  InstanceRecord,
  ProblemRecord,
  ProblemStatus,
  ReleaseRecord,
  Role,
  TokenRecord,
} from '../types.ts';

/** A row selected as an object keyed by column name. */
export type SqliteRow = Record<string, unknown>;

export const releaseFromSqlite = (r: SqliteRow): ReleaseRecord => ({
  app: r.app as string,
  version: r.version as string,
  digest: r.digest as string,
  spec: JSON.parse(r.spec as string) as Record<string, unknown>,
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
});

export const tokenFromSqlite = (r: SqliteRow): TokenRecord => ({
  name: r.name as string,
  hash: r.hash as string,
  role: r.role as Role,
  ...(r.channels == null ? {} : { channels: JSON.parse(r.channels as string) as string[] }),
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
});

export const SQLITE_AUDIT_COLUMNS =
  'id, at, actor, action, subject, instance, app, version, reason, request_id, "before", "after", details, prev_hash, hash';

/** Maps a row selected as an array of SQLITE_AUDIT_COLUMNS (arrays: no per-row object with column names). */
export function auditFromSqlite(r: SQLOutputValue[]): AuditEntry {
  return {
    id: Number(r[0]),
    at: Number(r[1]),
    actor: r[2] as string,
    action: r[3] as string,
    subject: r[4] as string,
    instance: r[5] as string | null,
    app: r[6] as string | null,
    version: r[7] as string | null,
    reason: r[8] as string | null,
    requestId: r[9] as string | null,
    before: JSON.parse(r[10] as string) as unknown,
    after: JSON.parse(r[11] as string) as unknown,
    details: JSON.parse(r[12] as string) as Record<string, unknown>,
    prevHash: r[13] as string,
    hash: r[14] as string,
  };
}

export const SQLITE_INSTANCE_COLUMNS =
  'name, app, hosts, environment, tenant, labels, target_kind, target_value, state, created_at, updated_at, maintenance_window, placement';

/**
 * Maps a row selected as an array of SQLITE_INSTANCE_COLUMNS. This runs once per instance when the fleet is listed
 * (100,000 rows is a real fleet), so rows come as arrays, not objects keyed by column name, and the
 * common empty label set skips JSON.parse.
 */
export function instanceFromSqlite(r: SQLOutputValue[]): InstanceRecord {
  const state = JSON.parse(r[8] as string) as InstanceState;
  const kind = r[6];
  return assertInstanceShape({
    name: r[0] as string,
    app: r[1] as string,
    hosts: JSON.parse(r[2] as string) as string[],
    environment: r[3] as string,
    tenant: r[4] as string | null,
    labels: r[5] === '{}' ? {} : (JSON.parse(r[5] as string) as Record<string, string>),
    target:
      kind === null ? null : kind === 'version' ? { version: r[7] as string } : { channel: r[7] as string },
    window: r[11] as string | null,
    placement: r[12] === null ? null : (JSON.parse(r[12] as string) as InstanceRecord['placement']),
    currentVersion: state.currentVersion,
    activeColor: state.activeColor,
    slots: state.slots,
    createdAt: Number(r[9]),
    updatedAt: Number(r[10]),
  });
}

export const channelFromSqlite = (r: SqliteRow): ChannelRecord => ({
  name: r.name as string,
  description: r.description as string,
  policy: JSON.parse(r.policy as string) as ChannelPolicy,
  builtIn: r.built_in === 1,
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
  updatedAt: Number(r.updated_at),
});

export const pointerFromSqlite = (r: SqliteRow): ChannelPointer => ({
  app: r.app as string,
  channel: r.channel as string,
  version: r.version as string,
  movedAt: Number(r.moved_at),
  movedBy: r.moved_by as string,
});

export const moveFromSqlite = (r: SqliteRow): ChannelMove => ({
  id: Number(r.id),
  app: r.app as string,
  channel: r.channel as string,
  fromVersion: r.from_version as string | null,
  toVersion: r.to_version as string,
  at: Number(r.at),
  actor: r.actor as string,
  reason: r.reason as string | null,
  forced: r.forced === 1,
});

export const holdFromSqlite = (r: SqliteRow): HoldRecord => ({
  instance: r.instance as string,
  owner: r.owner as string,
  reason: r.reason as string,
  createdAt: Number(r.created_at),
  until: r.expires_at === null ? null : Number(r.expires_at),
});

export const haltFromSqlite = (r: SqliteRow): HaltRecord => ({
  id: Number(r.id),
  app: r.app as string,
  version: r.version as string,
  reason: r.reason as string,
  problemId: r.problem_id === null ? null : Number(r.problem_id),
  haltedAt: Number(r.halted_at),
  haltedBy: r.halted_by as string,
  liftedBy: r.lifted_by as string | null,
  liftedAt: r.lifted_at === null ? null : Number(r.lifted_at),
  liftReason: r.lift_reason as string | null,
});

export const problemFromSqlite = (r: SqliteRow): ProblemRecord => ({
  id: Number(r.id),
  app: r.app as string,
  version: r.version as string,
  title: r.title as string,
  details: r.details as string | null,
  status: r.status as ProblemStatus,
  source: r.source as string,
  reportedBy: r.reported_by as string,
  reportedAt: Number(r.reported_at),
  resolvedBy: r.resolved_by as string | null,
  resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
  resolution: r.resolution as string | null,
});
