import type {
  AcquireOptions,
  AuditEntry,
  AuditFilter,
  ChannelMove,
  ChannelPointer,
  ChannelRecord,
  DeploymentRecord,
  HaltRecord,
  HoldRecord,
  InstancePage,
  InstanceRecord,
  InstanceSpecChange,
  LockRecord,
  LockResult,
  MoveResult,
  NewAuditEntry,
  NewHalt,
  NewProblem,
  ProblemFilter,
  ProblemRecord,
  ReleaseRecord,
  TokenRecord,
} from './types.ts';
import type { AppConfigVersion, SealedValue } from './app-config-records.ts';
import type { EdgeCertificateRecord } from './edge-cert-records.ts';
import type { DesiredAnswer, DesiredStateRecord, JoinOutcome, JoinRequest, JoinTokenRecord, MachineChange, MachineRecord, NewDesiredDocument } from './machine-records.ts';

/**
 * The store port. Every implementation (memory, SQLite, PostgreSQL) passes the same
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
  /** Instances ordered by name; a page of them when `after`/`limit` are given; only one machine's with `machine`. */
  listInstances(page?: InstancePage): Promise<InstanceRecord[]>;
  /**
   * Saves the deployer's runtime state of an instance: `currentVersion`, `activeColor`, `slots` and
   * `updatedAt`. Declared fields (hosts, environment, tenant, labels, target) are left as stored, so
   * a retarget that lands while a deployment runs is never overwritten.
   */
  saveInstanceState(instance: InstanceRecord): Promise<void>;
  /**
   * Changes declared fields of several instances and appends the audit entries, all in one
   * transaction: either every change and entry is stored or none is. Sets `updatedAt` to `at`.
   * When a named instance does not exist, nothing changes and its name is returned in `missing`.
   */
  updateInstanceSpecs(changes: InstanceSpecChange[], at: number, audit: NewAuditEntry[]): Promise<{ missing: string[] }>;
  /**
   * Forgets an instance: its record and its lock go, and the audit entry is appended, in one
   * transaction; false (and no entry) if there is no such instance. Its deployments stay: they are
   * the history the audit log points at.
   */
  deleteInstance(name: string, audit: NewAuditEntry): Promise<boolean>;

  insertDeployment(deployment: DeploymentRecord): Promise<void>;
  updateDeployment(deployment: DeploymentRecord): Promise<void>;
  getDeployment(id: string): Promise<DeploymentRecord | undefined>;
  /** Newest first; `actor` exact, `since`: createdAt >= since. */
  listDeployments(filter?: {
    instance?: string;
    status?: DeploymentRecord['status'];
    actor?: string;
    since?: number;
    /** createdAt < before: the next page after a page whose oldest entry was created at `before`. */
    before?: number;
    limit?: number;
  }): Promise<DeploymentRecord[]>;

  /**
   * Takes the instance's lease if it is free or expired at `now`, or held by the same owner (a
   * renewal), or by `options.takeFrom`; otherwise reports the holder. Atomic: two callers never
   * both get `ok: true` for the same instance. When it takes another deployment's lease and that
   * deployment is still running, `options.supersede` settles it in the same transaction.
   */
  acquireLock(lock: LockRecord, now: number, options?: AcquireOptions): Promise<LockResult>;
  /** Releases the lock if `owner` holds it; returns whether it did. */
  releaseLock(instance: string, owner: string): Promise<boolean>;
  getLock(instance: string): Promise<LockRecord | undefined>;

  /** Inserts a token; false if its name (or hash) is taken. */
  insertToken(token: TokenRecord): Promise<boolean>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** Tokens by name. */
  listTokens(): Promise<TokenRecord[]>;
  /** Revokes (deletes) a token; false if there is none by that name. */
  deleteToken(name: string): Promise<boolean>;
  countTokens(): Promise<number>;

  /**
   * Appends an entry to the hash chain: assigns the next id (no gaps), `prevHash` (the hash of the
   * entry before, `''` for the first) and `hash` (`auditHash`), atomically even with concurrent
   * appenders, and moves the chain's head to it.
   */
  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Entries matching every given filter, newest first. */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
  /** Entries with id > `after`, oldest first, at most `limit`: how `audit verify` walks the chain. */
  readAuditChain(after: number, limit: number): Promise<AuditEntry[]>;
  /** The last appended entry's id and hash, kept apart from the entries, so deleting entries from the end shows. */
  auditHead(): Promise<{ id: number; hash: string } | undefined>;

  /** Inserts a channel; false if the name is taken. */
  insertChannel(channel: ChannelRecord): Promise<boolean>;
  getChannel(name: string): Promise<ChannelRecord | undefined>;
  /** Channels ordered by name. */
  listChannels(): Promise<ChannelRecord[]>;
  /** Replaces description, policy and updatedAt of an existing channel. */
  updateChannel(channel: ChannelRecord): Promise<void>;
  /** Where channels point, ordered by app then channel; filtered when given. */
  listChannelPointers(filter?: { app?: string; channel?: string }): Promise<ChannelPointer[]>;
  /**
   * Moves a channel pointer for an app if it still points at `move.fromVersion` (null: points
   * nowhere yet), appends the move to the channel's history and `audit` to the audit chain, all in
   * one transaction. Otherwise changes nothing and reports where it points now.
   */
  moveChannel(move: Omit<ChannelMove, 'id'>, audit: NewAuditEntry): Promise<MoveResult>;
  /** Moves, oldest first; filtered by app, channel and the version moved to or from. */
  listChannelMoves(filter?: { app?: string; channel?: string; version?: string }): Promise<ChannelMove[]>;

  /** Stores a new open problem with the next id. */
  insertProblem(problem: NewProblem): Promise<ProblemRecord>;
  getProblem(id: number): Promise<ProblemRecord | undefined>;
  /** Marks an open problem resolved; returns it, or undefined if there is no open problem with that id. */
  resolveProblem(id: number, by: string, at: number, resolution: string | null): Promise<ProblemRecord | undefined>;
  /** Problems, newest first. */
  listProblems(filter?: ProblemFilter): Promise<ProblemRecord[]>;

  /** A JSON setting (e.g. the fleet policy under `fleet.policy`), or undefined when never set. */
  getSetting(key: string): Promise<unknown>;
  /** Stores a JSON setting and appends the audit entry, in one transaction. */
  putSetting(key: string, value: unknown, audit: NewAuditEntry): Promise<void>;

  /** Puts a hold on an instance (replacing one it has) and appends the audit entry, in one transaction. */
  putHold(hold: HoldRecord, audit: NewAuditEntry): Promise<void>;
  /** Removes an instance's hold and appends the audit entry; false (and no entry) if it had none. */
  deleteHold(instance: string, audit: NewAuditEntry): Promise<boolean>;
  /** Holds by instance name. Expired holds are listed too: callers compare `until` with their clock. */
  listHolds(): Promise<HoldRecord[]>;

  /**
   * Records a halt and appends the audit entry, in one transaction, unless the version already has
   * an active (not lifted) halt: then changes nothing and returns undefined.
   */
  insertHalt(halt: NewHalt, audit: NewAuditEntry): Promise<HaltRecord | undefined>;
  /** Lifts a version's active halt and appends the audit entry; undefined (and no entry) if none is active. */
  liftHalt(app: string, version: string, lift: { by: string; at: number; reason: string }, audit: NewAuditEntry): Promise<HaltRecord | undefined>;
  /** Halts newest first; only active ones (not lifted) with `active: true`. */
  listHalts(filter?: { app?: string; version?: string; active?: boolean }): Promise<HaltRecord[]>;

  /** Stores a new join token and appends the audit entry, in one transaction. */
  insertJoinToken(token: JoinTokenRecord, audit: NewAuditEntry): Promise<void>;
  findJoinTokenByHash(hash: string): Promise<JoinTokenRecord | undefined>;
  /** Join tokens, oldest first (ties by id), revoked and expired ones too. */
  listJoinTokens(): Promise<JoinTokenRecord[]>;
  /** Revokes a token that is not revoked yet and appends the entry; undefined (and no entry) otherwise. */
  revokeJoinToken(id: string, by: string, at: number, audit: NewAuditEntry): Promise<JoinTokenRecord | undefined>;

  /**
   * A join, atomically: the token with `join.tokenHash` must be unrevoked, unexpired at `join.now`
   * and not used up; the name must be free (no machine, or a removed one, which is replaced). Then
   * the token's `uses` goes up by one, the machine is stored and the entry appended. Otherwise
   * nothing changes and no entry is appended. Two joins racing for one name or the last use of a
   * token: exactly one wins.
   */
  joinMachine(join: JoinRequest, machine: MachineRecord, audit: NewAuditEntry): Promise<JoinOutcome>;
  getMachine(name: string): Promise<MachineRecord | undefined>;
  /** The machine whose credential has this hash, whatever its status. */
  findMachineByCredentialHash(hash: string): Promise<MachineRecord | undefined>;
  /** Machines by name, removed ones too. */
  listMachines(): Promise<MachineRecord[]>;
  /**
   * Changes a machine's fields and appends the entry (none for a heartbeat: null), in one
   * transaction; undefined (and no entry) when there is no such machine.
   */
  updateMachine(name: string, change: MachineChange, audit: NewAuditEntry | null): Promise<MachineRecord | undefined>;

  /** A machine's desired-state row, or undefined when nothing was ever stored for it. */
  getDesiredState(machine: string): Promise<DesiredStateRecord | undefined>;
  /**
   * Stores `next` as the machine's document if its stored number is `next.number - 1` (0 when it
   * has no row yet), keeping the answers and the report; false, changing nothing, otherwise: two
   * replicas that both saw a change store one number, not two.
   */
  putDesiredDocument(machine: string, next: NewDesiredDocument): Promise<boolean>;
  /**
   * Records the agent's answer to document `number`: accepted raises `ackedNumber` to it (never
   * lowers it); refused sets `rejectedNumber` and the reason. Undefined (nothing changes) when the
   * machine has no row.
   */
  recordDesiredAnswer(machine: string, number: number, answer: DesiredAnswer, at: number): Promise<DesiredStateRecord | undefined>;
  /** Keeps the agent's last report of what it runs (creating the row, number 0, if needed). */
  saveMachineReport(machine: string, report: Record<string, unknown>, at: number): Promise<void>;

  /** An app-config version by id; the latest without one; undefined when there is none (yet, or pruned). */
  getAppConfigVersion(id?: number): Promise<AppConfigVersion | undefined>;
  /** Every kept app-config version, oldest first. */
  listAppConfigVersions(): Promise<AppConfigVersion[]>;
  /**
   * Stores the next version and appends the audit entry, in one transaction, if `version.id` is the
   * latest id + 1 (1 when there is none); false, changing nothing, otherwise: two replicas that
   * both read version N store one N + 1, and the other tries again on the new one.
   */
  insertAppConfigVersion(version: AppConfigVersion, audit: NewAuditEntry): Promise<boolean>;
  /**
   * Key rotation: replaces the entries, active key and key checks of the given versions and appends
   * the entry, in one transaction, if the latest id is still `expectLatest`; false, changing nothing, otherwise.
   */
  rewriteAppConfigVersions(versions: AppConfigVersion[], expectLatest: number, audit: NewAuditEntry): Promise<boolean>;
  /** Deletes the given versions except the latest, which is never deleted; returns how many went. */
  deleteAppConfigVersions(ids: number[]): Promise<number>;

  /** Edge certificates by host name (code point order). */
  listEdgeCertificates(): Promise<EdgeCertificateRecord[]>;
  getEdgeCertificate(host: string): Promise<EdgeCertificateRecord | undefined>;
  /**
   * Stores the host's certificate (replacing the one it had) and appends the entry, in one
   * transaction; a default one takes the mark from the certificate that had it.
   */
  putEdgeCertificate(record: EdgeCertificateRecord, audit: NewAuditEntry): Promise<void>;
  /** Deletes the host's certificate and appends the entry, in one transaction; false (and no entry) when it had none. */
  deleteEdgeCertificate(host: string, audit: NewAuditEntry): Promise<boolean>;
  /** Key rotation: replaces the sealed keys of the hosts named (others, and hosts gone since, are left alone). */
  resealEdgeCertificateKeys(keys: ReadonlyArray<{ host: string; key: SealedValue }>): Promise<void>;

  close(): Promise<void>;
}
