// Join tokens and machines: the records of issue 17's machine registry (ADR 0021). Kept in their
// own file so the rest of the store's types stay as they are.

/** A join token as stored: never the token itself, only the SHA-256 of its secret. */
export interface JoinTokenRecord {
  /** `jt_` and 12 hex digits: how lists, `revoke` and audit entries name the token. */
  id: string;
  /** SHA-256 (hex) of the token's secret. */
  hash: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  /** How many joins it allows; null: any number until it expires. */
  maxUses: number | null;
  /** Joins made with it so far. */
  uses: number;
  revokedAt: number | null;
  revokedBy: string | null;
}

/** `active` receives work; `draining` keeps what it runs but gets nothing new; `removed` is gone (its credential refused, its name free). */
export type MachineStatus = 'active' | 'draining' | 'removed';

/** A machine an agent joined from. */
export interface MachineRecord {
  name: string;
  labels: Record<string, string>;
  /** The address the agent's last request came from. */
  address: string | null;
  agentVersion: string;
  /** The agent protocol version it announced (ADR 0019's `PROTOCOL_VERSION`). */
  protocolVersion: number;
  joinedAt: number;
  lastHeartbeat: number | null;
  status: MachineStatus;
  /** SHA-256 (hex) of the machine's credential; the credential itself is only ever with the agent. */
  credentialHash: string;
  credentialRotatedAt: number;
  /** The id of the join token it joined with. */
  joinToken: string;
}

/** What a join changes besides the machine's own fields. */
export interface JoinRequest {
  /** SHA-256 of the presented token's secret. */
  tokenHash: string;
  /** The token must be unexpired at `now`. */
  now: number;
}

/**
 * A join's outcome: the machine stored (a removed machine's name is reused), or why not. `token`:
 * no usable token has that hash (unknown, expired, used up or revoked: the service asks
 * `checkJoinToken` which); `name-taken`: an active or draining machine has the name.
 */
export type JoinOutcome = { ok: true; machine: MachineRecord } | { ok: false; reason: 'token' | 'name-taken' };

/** The fields of a machine that change after it joined. */
export type MachineChange = Partial<
  Pick<MachineRecord, 'status' | 'credentialHash' | 'credentialRotatedAt' | 'lastHeartbeat' | 'address' | 'agentVersion' | 'protocolVersion' | 'labels'>
>;

/**
 * A machine's desired state as the server keeps it: the numbered document it sends the agent
 * (number 0, document null: none yet), what the agent answered, and the agent's last report of what
 * it runs. Documents and reports are JSON the store keeps opaque (`control/desired-state.ts` and the
 * protocol give them their shape).
 */
export interface DesiredStateRecord {
  machine: string;
  number: number;
  document: Record<string, unknown> | null;
  /** SHA-256 of the document's canonical JSON. */
  digest: string | null;
  updatedAt: number | null;
  /** The highest number the agent accepted, and when. */
  ackedNumber: number | null;
  ackedAt: number | null;
  /** The last number the agent refused, why, and when. */
  rejectedNumber: number | null;
  rejectedReason: string | null;
  rejectedAt: number | null;
  /** What the agent last reported it runs (a heartbeat), and when. */
  reported: Record<string, unknown> | null;
  reportedAt: number | null;
}

/** A new document to store as `number`: stored only when the stored number is `number - 1` (0 when none). */
export interface NewDesiredDocument {
  number: number;
  document: Record<string, unknown>;
  digest: string;
  at: number;
}

/** The agent's answer to one desired-state document. */
export type DesiredAnswer = { accepted: true } | { accepted: false; reason: string };
