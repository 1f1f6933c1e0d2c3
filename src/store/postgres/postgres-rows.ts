import type {
  AuditEntry,
  ChannelMove,
  ChannelPointer,
  ChannelRecord,
  DeploymentRecord,
  HaltRecord,
  HoldRecord,
  InstanceRecord,
  ProblemRecord,
  ReleaseRecord,
  TokenRecord,
} from '../types.ts';

/**
 * Row → record mappers. The pool parses `json` columns (JSON.parse) and `int8` (Number) itself, so
 * each row is read fresh from the wire: records returned are never shared with the store.
 */
export type Row = Record<string, unknown>;

export const toRelease = (r: Row): ReleaseRecord => ({
  app: r.app as string,
  version: r.version as string,
  digest: r.digest as string,
  spec: r.spec as ReleaseRecord['spec'],
  createdAt: r.created_at as number,
  createdBy: r.created_by as string,
});

/** Column list for instances, in the order `toInstance` reads them (array rows: no per-row key lookups). */
export const INSTANCE_COLUMNS =
  'name, app, hosts, environment, tenant, labels, target, current_version, active_color, slots, created_at, updated_at, maintenance_window, placement';

export const toInstance = (r: unknown[]): InstanceRecord => ({
  name: r[0] as string,
  app: r[1] as string,
  hosts: r[2] as string[],
  environment: r[3] as string,
  tenant: r[4] as string | null,
  labels: r[5] as Record<string, string>,
  target: r[6] as InstanceRecord['target'],
  window: r[12] as string | null,
  placement: (r[13] ?? null) as InstanceRecord['placement'],
  currentVersion: r[7] as string | null,
  activeColor: r[8] as InstanceRecord['activeColor'],
  slots: r[9] as InstanceRecord['slots'],
  createdAt: r[10] as number,
  updatedAt: r[11] as number,
});

export const toDeployment = (r: Row): DeploymentRecord => r.body as DeploymentRecord;

export const toToken = (r: Row): TokenRecord => ({
  name: r.name as string,
  hash: r.hash as string,
  role: r.role as TokenRecord['role'],
  ...(r.channels == null ? {} : { channels: r.channels as string[] }),
  createdAt: r.created_at as number,
  createdBy: r.created_by as string,
});

export const toAudit = (r: Row): AuditEntry => ({
  id: r.id as number,
  at: r.at as number,
  actor: r.actor as string,
  action: r.action as string,
  subject: r.subject as string,
  instance: r.instance as string | null,
  app: r.app as string | null,
  version: r.version as string | null,
  reason: r.reason as string | null,
  requestId: r.request_id as string | null,
  before: r.before,
  after: r.after,
  details: r.details as Record<string, unknown>,
  prevHash: r.prev_hash as string,
  hash: r.hash as string,
});

export const toChannel = (r: Row): ChannelRecord => ({
  name: r.name as string,
  description: r.description as string,
  policy: r.policy as ChannelRecord['policy'],
  builtIn: r.built_in as boolean,
  createdAt: r.created_at as number,
  createdBy: r.created_by as string,
  updatedAt: r.updated_at as number,
});

export const toPointer = (r: Row): ChannelPointer => ({
  app: r.app as string,
  channel: r.channel as string,
  version: r.version as string,
  movedAt: r.moved_at as number,
  movedBy: r.moved_by as string,
});

export const toMove = (r: Row): ChannelMove => ({
  id: r.id as number,
  app: r.app as string,
  channel: r.channel as string,
  fromVersion: r.from_version as string | null,
  toVersion: r.to_version as string,
  at: r.at as number,
  actor: r.actor as string,
  reason: r.reason as string | null,
  forced: r.forced as boolean,
});

export const toProblem = (r: Row): ProblemRecord => ({
  id: r.id as number,
  app: r.app as string,
  version: r.version as string,
  title: r.title as string,
  details: r.details as string | null,
  status: r.status as ProblemRecord['status'],
  source: r.source as string,
  reportedBy: r.reported_by as string,
  reportedAt: r.reported_at as number,
  resolvedBy: r.resolved_by as string | null,
  resolvedAt: r.resolved_at as number | null,
  resolution: r.resolution as string | null,
});

export const toHold = (r: Row): HoldRecord => ({
  instance: r.instance as string,
  owner: r.owner as string,
  reason: r.reason as string,
  createdAt: r.created_at as number,
  until: r.expires_at as number | null,
});

export const toHalt = (r: Row): HaltRecord => ({
  id: r.id as number,
  app: r.app as string,
  version: r.version as string,
  reason: r.reason as string,
  problemId: r.problem_id as number | null,
  haltedAt: r.halted_at as number,
  haltedBy: r.halted_by as string,
  liftedBy: r.lifted_by as string | null,
  liftedAt: r.lifted_at as number | null,
  liftReason: r.lift_reason as string | null,
});
