import type { Color } from '../shared/index.ts';

/**
 * Records the store keeps. Plain data, JSON-serialisable; no database types leak out of `src/store`.
 * Times are milliseconds since the epoch.
 */

/** A published release. `spec` is the validated manifest (see `src/releases`), kept opaque here. */
export interface ReleaseRecord {
  app: string;
  version: string;
  /** Content hash of the spec: an identical republish is idempotent, a different one is refused. */
  digest: string;
  spec: Record<string, unknown>;
  createdAt: number;
  createdBy: string;
}

export type SlotStatus = 'starting' | 'live' | 'warm' | 'stopped' | 'failed';

export interface SlotRecord {
  version: string;
  status: SlotStatus;
  deploymentId: string;
  /** For a warm slot: when its rollback window ends and it gets drained and stopped. */
  warmUntil?: number;
}

export interface InstanceRecord {
  name: string;
  app: string;
  hosts: string[];
  environment: string;
  currentVersion: string | null;
  activeColor: Color | null;
  slots: { blue: SlotRecord | null; green: SlotRecord | null };
  createdAt: number;
  updatedAt: number;
}

export type DeploymentKind = 'deploy' | 'rollback';
export type DeploymentStatus = 'running' | 'succeeded' | 'failed';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  status: StepStatus;
  startedAt?: number;
  finishedAt?: number;
  /** What the step saw: health check results, slot port, timings. Never secrets. */
  detail?: Record<string, unknown>;
}

export interface DeploymentRecord {
  id: string;
  instance: string;
  kind: DeploymentKind;
  /** `start-and-flip` starts the release in the idle slot; `flip-to-warm` flips back to a warm slot. */
  strategy: 'start-and-flip' | 'flip-to-warm';
  fromVersion: string | null;
  toVersion: string;
  fromColor: Color | null;
  toColor: Color;
  status: DeploymentStatus;
  steps: StepRecord[];
  error?: { code: string; message: string; details?: Record<string, unknown> };
  actor: string;
  reason?: string;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
}

export interface LockRecord {
  instance: string;
  owner: string;
  deploymentId: string;
  acquiredAt: number;
  expiresAt: number;
}

export type Role = 'viewer' | 'deployer' | 'admin';

export interface TokenRecord {
  name: string;
  /** sha256 of the token; the token itself is never stored. */
  hash: string;
  role: Role;
  createdAt: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  reason?: string;
  details: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export type LockResult = { ok: true; lock: LockRecord } | { ok: false; holder: LockRecord };
