import type {
  AuditEntry,
  DeploymentRecord,
  InstanceRecord,
  LockRecord,
  LockResult,
  NewAuditEntry,
  ReleaseRecord,
  TokenRecord,
} from './types.ts';

/**
 * The store port. Every implementation (memory, SQLite, later PostgreSQL) passes the same
 * contract suite (`store-contract.ts`). Methods are async so a networked database fits behind it.
 * Records returned are copies: mutating them never changes the store.
 */
export interface Store {
  /** Inserts a release; returns false (and changes nothing) if (app, version) already exists. */
  insertRelease(release: ReleaseRecord): Promise<boolean>;
  getRelease(app: string, version: string): Promise<ReleaseRecord | undefined>;
  /** Releases, newest first by creation; of one app when given. */
  listReleases(app?: string): Promise<ReleaseRecord[]>;
  /** Apps that have at least one release. */
  listApps(): Promise<string[]>;

  /** Inserts an instance; returns false if the name is taken. */
  insertInstance(instance: InstanceRecord): Promise<boolean>;
  getInstance(name: string): Promise<InstanceRecord | undefined>;
  listInstances(): Promise<InstanceRecord[]>;
  /** Replaces the stored instance with this one (matched by name). */
  updateInstance(instance: InstanceRecord): Promise<void>;

  insertDeployment(deployment: DeploymentRecord): Promise<void>;
  updateDeployment(deployment: DeploymentRecord): Promise<void>;
  getDeployment(id: string): Promise<DeploymentRecord | undefined>;
  /** Newest first. */
  listDeployments(filter?: { instance?: string; status?: DeploymentRecord['status']; limit?: number }): Promise<DeploymentRecord[]>;

  /**
   * Takes the instance's lease if it is free or expired at `now`; otherwise reports the holder.
   * Atomic: two callers never both get `ok: true` for the same instance.
   */
  acquireLock(lock: LockRecord, now: number): Promise<LockResult>;
  /** Releases the lock if `owner` holds it; returns whether it did. */
  releaseLock(instance: string, owner: string): Promise<boolean>;
  getLock(instance: string): Promise<LockRecord | undefined>;

  insertToken(token: TokenRecord): Promise<boolean>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  countTokens(): Promise<number>;

  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  listAudit(filter?: { subject?: string; limit?: number }): Promise<AuditEntry[]>;

  close(): Promise<void>;
}
