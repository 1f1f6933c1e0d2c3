import type { Color, ErrorCode, Role } from '../shared/index.ts';

/** The role lives in `shared/` (the API, control and the CLI speak it); the store keeps it on tokens. */
export type { Role };

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
  /** The app-config version the slot was started with (absent: none, or before app config existed). */
  configVersion?: number;
  /** What the instance's app config was at that version (`''` or absent: no app config applied). */
  configDigest?: string;
}

/** Where an instance runs: named machines, or every machine whose labels match a selector (`src/control/placement.ts`). */
export type InstancePlacement = { machines: string[] } | { selector: string };

/** What an instance should run: a fixed version, or whatever a channel points to. */
export type InstanceTarget = { version: string } | { channel: string };

export interface InstanceRecord {
  name: string;
  app: string;
  hosts: string[];
  /** `production`, `test`, `staging`…: selectors and (later) waves use it. */
  environment: string;
  /** The customer this instance belongs to, when the fleet is multi-tenant. */
  tenant: string | null;
  /** Free-form `key=value` labels for selectors. */
  labels: Record<string, string>;
  /** What it should run; null: nothing declared (deployed by hand only). */
  target: InstanceTarget | null;
  /**
   * When the fleet scheduler may upgrade it: maintenance-window text (`daily 01:00-04:00
   * Europe/London`, see `src/fleet`); null: its environment's default from the fleet policy.
   * Records written before windows existed read back as null.
   */
  window: string | null;
  /**
   * The machines it runs on (`instance create --machine A --machine B` or `--machine-selector
   * role=web`; every machine of it runs both slots and routes its hosts); null: no placement — the
   * only active machine, or the one local agent of a server no machine has joined. Records written
   * before placement read back as null; those of one machine (issue 17) as `{ machines: [name] }`.
   */
  placement: InstancePlacement | null;
  // Runtime state below: written by the deployer through `saveInstanceState`.
  currentVersion: string | null;
  activeColor: Color | null;
  slots: { blue: SlotRecord | null; green: SlotRecord | null };
  createdAt: number;
  updatedAt: number;
}

export type DeploymentKind = 'deploy' | 'rollback';
/**
 * `aborted`: stopped on request before the flip; whoever was on the new colour went back to the old one.
 * `partial`: it flipped, but some machines of the instance did not confirm (no acknowledgement in
 * `flipTimeout`) or were not reached (unreachable, or skipped): they converge to the desired state
 * when they are back (see {@link DeploymentMachines}).
 */
export type DeploymentStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'aborted';

/** A deployment on several machines (issue 18): which took part and which did not confirm. */
export interface DeploymentMachines {
  /** The machines the instance was placed on when the deployment began. */
  placed: string[];
  /** Unreachable when it began and left out (`--skip-unreachable`, or any rollback). */
  skipped: string[];
  /** Sent the flip, no acknowledgement within `flipTimeout`. */
  unconfirmed: string[];
  /** Not flipped: unreachable when the flip was due, or (a rollback) one that could not take it. */
  pending: string[];
  /** A rolling deployment's machines that failed within its failure budget (`--max-failures`): left on the previous release. Absent in records before it existed. */
  failed?: string[];
}

/**
 * A gradual cutover: before the flip, the new colour gets `steps[i]` percent of new clients in turn
 * (0 = none: reachable through the preview token only). Between steps the deployment holds for
 * `pauseMs`, or until `cutover deployment resume` when `pauseMs` is null; with `analysis`, the new
 * colour is compared with the old one over each step, and a breach aborts.
 */
export interface RolloutSpec {
  steps: number[];
  pauseMs: number | null;
  analysis: boolean;
}
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

/**
 * The steps a deployment can take, in the order a plan lists them (`src/deploy/steps.ts`):
 * `shift-<percent>` is one weighted step of a gradual cutover; `batch-<n>` one batch of machines of
 * a rolling deployment (started, health-checked and flipped together).
 */
export type StepName = 'prepare' | 'start' | 'health' | 'smoke' | `shift-${number}` | `batch-${number}` | 'flip' | 'verify' | 'finalise';

export interface StepRecord {
  name: StepName;
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
  error?: { code: ErrorCode; message: string; details?: Record<string, unknown> };
  actor: string;
  /** The instance's app (absent on deployments recorded before it was kept). */
  app?: string;
  reason?: string;
  /** The API request that started it. */
  requestId?: string;
  /** Present for a gradual cutover (weighted steps before the flip). */
  rollout?: RolloutSpec;
  /** Who asked to abort it, once the deployer has seen the request. */
  abort?: { at: number; actor: string; reason?: string };
  /** Set when an admin deployed without the release's tests (`--skip-tests`, with a reason). */
  skipTests?: boolean;
  /** On an instance placed on machines: which took part and how the flip went on them. */
  machines?: DeploymentMachines;
  /** A rolling deployment (`--rolling`): its batches of machines, in order, at most `maxUnavailable` each. */
  rolling?: { maxUnavailable: number; /** Machines that may fail before the rollout stops (absent: 0). */ maxFailures?: number; batches: string[][] };
  /**
   * A failure after the flip (a verify test, an abort during it, recovery) flipped users back to
   * the warm slot: what it flipped to and how long the flip took.
   */
  rollback?: { strategy: 'flip-to-warm'; toVersion: string | null; toColor: Color; flippedAt: number; tookMs: number };
  /** The app-config version its slot starts with: a deployment is the pair (release, config version). */
  configVersion?: number;
  /** The identity of the instance's app config at that version (`''`: none applies), compared by the planner. */
  configDigest?: string;
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
  /** Which server process holds it (absent on leases taken before it was kept, and on other leases). */
  holder?: LeaseHolder;
  /** When the holder last renewed it: a live holder renews well before `expiresAt`. */
  heartbeatAt?: number;
}

/**
 * The server process holding a lease. A replica tells a live peer's lease (leave it alone until it
 * expires) from its own previous incarnation's (dead: the new process bound the same API port on
 * the same host, so it may recover it at once).
 */
export interface LeaseHolder {
  /** Random at each process start: the incarnation. */
  serverId: string;
  /** `hostname:apiPort`, the same across restarts of one replica; null when the API port is chosen by the OS. */
  replica: string | null;
  /** For humans reading the lease. */
  pid: number;
}

/** How `acquireLock` may take a lease that someone else holds. */
export interface AcquireOptions {
  /** Take the lease even while it is live when this server id holds it (a dead previous incarnation of this replica). */
  takeFrom?: string;
  /**
   * When the lease taken was another deployment's (expired, or taken from a dead incarnation) and that
   * deployment is still `running`: how to settle it. Its result is stored, with its audit entry, in
   * the same transaction as the lease, so a deployment never outlives its lease unrecorded.
   */
  supersede?: (deployment: DeploymentRecord, now: number) => { deployment: DeploymentRecord; audit: NewAuditEntry };
}


export interface TokenRecord {
  name: string;
  /** sha256 of the token; the token itself is never stored. */
  hash: string;
  role: Role;
  /** A `publisher` token's channels: the only ones it may promote to. Absent for other roles. */
  channels?: string[];
  createdAt: number;
  createdBy: string;
}

/**
 * One entry of the hash-chained audit log. `hash` = sha256 over `prevHash` and the entry's other
 * fields (see `audit-chain.ts`); editing or deleting any entry breaks the chain.
 */
export interface AuditEntry {
  /** 1, 2, 3… with no gaps. */
  id: number;
  at: number;
  /** Token name, or `system` / `scheduler`. */
  actor: string;
  /** `release.publish`, `channel.promote`, `instance.target`, `deploy.start`… */
  action: string;
  /** What it is about, e.g. `shop-live`, `hello@1.2.0`, `stable`, `token:ci`, `problem:12`. */
  subject: string;
  /** The instance it concerns, for `audit --instance`. */
  instance: string | null;
  /** The app and version it concerns, for `audit --release`. */
  app: string | null;
  version: string | null;
  reason: string | null;
  requestId: string | null;
  /** State before and after the change (JSON values; never secrets). */
  before: unknown;
  after: unknown;
  details: Record<string, unknown>;
  /** Hash of the previous entry; `''` for the first. */
  prevHash: string;
  hash: string;
}

/** What a caller appends; the store assigns `id`, `prevHash` and `hash` atomically. */
export type NewAuditEntry = Pick<AuditEntry, 'at' | 'actor' | 'action' | 'subject'> &
  Partial<Pick<AuditEntry, 'instance' | 'app' | 'version' | 'reason' | 'requestId' | 'before' | 'after' | 'details'>>;

export interface AuditFilter {
  instance?: string;
  /** Entries about this version (of any app, unless `app` is also given). */
  version?: string;
  app?: string;
  actor?: string;
  subject?: string;
  action?: string;
  /** `at >= since` */
  since?: number;
  /** `at < until` */
  until?: number;
  /** Only entries with id < before (paging newest first). */
  before?: number;
  limit?: number;
}

/** Settings of a channel that decide whether a release may be promoted to it. */
export interface ChannelPolicy {
  /** The release must have spent at least `days` on `channel` (summed over its time there). */
  soak: { channel: string; days: number } | null;
  /** Refuse while the release has an open problem. */
  blockOnOpenProblems: boolean;
  /** Refuse pre-release versions (`1.2.0-beta.1`). */
  allowPrerelease: boolean;
  /**
   * The fleet scheduler promotes by itself, as soon as the policy passes, the version that is
   * on the soak channel (needs `soak`). Absent in records written before it existed: false.
   */
  autoPromote?: boolean;
}

/** A release stream: `alpha`, `beta`, `release`, `stable` and custom ones. Shared by all apps. */
export interface ChannelRecord {
  name: string;
  description: string;
  policy: ChannelPolicy;
  builtIn: boolean;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
}

/** Where a channel points for one app. */
export interface ChannelPointer {
  app: string;
  channel: string;
  version: string;
  movedAt: number;
  movedBy: string;
}

/** One move of a channel pointer: its history. */
export interface ChannelMove {
  id: number;
  app: string;
  channel: string;
  fromVersion: string | null;
  toVersion: string;
  at: number;
  actor: string;
  reason: string | null;
  /** An admin overrode the channel's policy. */
  forced: boolean;
}

export type MoveResult = { ok: true; move: ChannelMove } | { ok: false; current: string | null };

export type ProblemStatus = 'open' | 'resolved';

/** A defect reported against a release; an open one blocks promotion to `stable`. */
export interface ProblemRecord {
  id: number;
  app: string;
  version: string;
  title: string;
  details: string | null;
  status: ProblemStatus;
  /** `user`, or what filed it automatically (`rollback`, `scheduler`). */
  source: string;
  reportedBy: string;
  reportedAt: number;
  resolvedBy: string | null;
  resolvedAt: number | null;
  resolution: string | null;
}

export type NewProblem = Omit<ProblemRecord, 'id' | 'status' | 'resolvedBy' | 'resolvedAt' | 'resolution'>;

export interface ProblemFilter {
  app?: string;
  version?: string;
  status?: ProblemStatus;
}

/** Paging over instances by name. */
export interface InstancePage {
  /** Only names after this one. */
  after?: string;
  limit?: number;
}

/** A change of an instance's declared fields; absent fields stay as they are. */
export interface InstanceSpecChange {
  name: string;
  /** The host names the router serves the instance on (the caller checks no other instance has them). */
  hosts?: string[];
  target?: InstanceTarget | null;
  labels?: Record<string, string>;
  tenant?: string | null;
  environment?: string;
  window?: string | null;
  placement?: InstancePlacement | null;
}

/** An instance the fleet scheduler must not change, with who put it there and why. */
export interface HoldRecord {
  instance: string;
  owner: string;
  reason: string;
  createdAt: number;
  /** When it ends by itself; null: until released. */
  until: number | null;
}

/** The fleet-wide stop of one version's rollout after its failure budget ran out. */
export interface HaltRecord {
  id: number;
  app: string;
  version: string;
  reason: string;
  /** The problem filed against the release when it halted. */
  problemId: number | null;
  haltedAt: number;
  haltedBy: string;
  liftedBy: string | null;
  liftedAt: number | null;
  liftReason: string | null;
}

export type NewHalt = Pick<HaltRecord, 'app' | 'version' | 'reason' | 'problemId' | 'haltedAt' | 'haltedBy'>;

/** `superseded`: the previous holder's running deployment, as `supersede` settled it. */
export type LockResult = { ok: true; lock: LockRecord; superseded?: DeploymentRecord } | { ok: false; holder: LockRecord };
