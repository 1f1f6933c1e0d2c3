// The port through which server replicas on one database reach each other's machines (issue 19,
// ADR 0025): which replica holds each machine's agent session, whether a replica is alive, calls
// relayed to the replica holding a machine, and a nudge when desired states may have changed.
// PostgreSQL implements it (`postgres/postgres-replica-bus.ts`: LISTEN/NOTIFY, advisory locks), the
// memory fake too (`memory/memory-replica-bus.ts`); both pass `replica-bus-contract.ts`. With SQLite
// there is one server and nothing to relay (`openReplicaBus` gives none).
import { createHash } from 'node:crypto';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';

/** Runs a call relayed to this replica on the session it holds for `machine`: its answer, or the agent's `CutoverError`. */
export type RelayHandler = (machine: string, type: string, body: unknown) => Promise<unknown>;

/** What a replica is told by the bus once it started. */
export interface ReplicaBusListeners {
  /** Runs the calls other replicas relay to machines whose session this replica holds. */
  serve: RelayHandler;
  /** Some replica claimed or released a machine's session (read `holders()` again). */
  onClaimsChanged?(): void;
  /** Instances or machines changed in the database: the desired states of held machines may have. */
  onDesiredChanged?(): void;
  /** A replica asked that `machine`'s session end (removed, credential rotated): end it if held here. */
  onDisconnect?(machine: string, why: string): void;
}

/** A machine's session and the live replica holding it. */
export interface MachineHolder {
  machine: string;
  serverId: string;
  /** The replica's address (`<hostname>/<apiHost>:<apiPort>`), null when it has none stable. */
  replica: string | null;
}

/** How the server replicas of one database reach each other's machines. */
export interface ReplicaBus {
  /** This replica (the `LeaseHolder.serverId` of its leases). */
  readonly serverId: string;
  /** Registers this replica as alive (until `close` or its death) and starts serving relayed calls. */
  start(listeners: ReplicaBusListeners): Promise<void>;
  /** This replica now holds `machine`'s session (a newer claim replaces any other). */
  claim(machine: string): Promise<void>;
  /** This replica no longer holds `machine`'s session; a newer claim by another replica is kept. */
  release(machine: string): Promise<void>;
  /** Every machine whose session a live replica holds (a dead replica's claims count as none). */
  holders(): Promise<MachineHolder[]>;
  /** The live replica holding `machine`'s session, if any. */
  holderOf(machine: string): Promise<MachineHolder | undefined>;
  /**
   * Whether the replica `serverId` is alive: false at once when it died or stopped, undefined when
   * it cannot tell (the database unreachable, or a server id that never registered on the bus: a
   * replica of an earlier version, or one dead for more than a day).
   */
  alive(serverId: string): Promise<boolean | undefined>;
  /**
   * Runs `type` with `body` on `machine`'s session through the replica holding it: its answer, or
   * the agent's error (code, message, details kept). `TIMEOUT` after `timeoutMs`;
   * `AGENT_UNREACHABLE` naming the machine when no live replica holds it or its holder dies.
   */
  call(machine: string, type: string, body: unknown, options: { timeoutMs: number }): Promise<unknown>;
  /**
   * Ends `machine`'s session on whichever replica holds it (a removed machine, a rotated
   * credential). `why` is a fixed sentence, never a secret: it crosses the database as a notification.
   */
  disconnect(machine: string, why: string): Promise<void>;
  /** Leaves: its claims count as none at once; calls in flight fail. */
  close(): Promise<void>;
}

/** The advisory lock a replica holds while it lives: two non-negative int4 keys from sha256(serverId). */
export function livenessKeys(serverId: string): [number, number] {
  const hash = createHash('sha256').update(`cutover-replica:${serverId}`).digest();
  return [hash.readUInt32BE(0) & 0x7fffffff, hash.readUInt32BE(4) & 0x7fffffff];
}

/** An error as it crosses the database: code, message and details only (never a stack or a cause). */
export interface RelayedError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function relayedError(error: unknown): RelayedError {
  if (isCutoverError(error)) return { code: error.code, message: error.message, details: error.details };
  return { code: 'INTERNAL', message: `the replica holding the machine failed: ${(error as Error)?.message ?? String(error)}` };
}

export function fromRelayedError(e: RelayedError): CutoverError {
  return new CutoverError(e.code as ErrorCode, e.message, { details: e.details ?? {} });
}

/** `AGENT_UNREACHABLE`: no live replica holds the machine's session, or its holder died mid-call. */
export function noHolder(machine: string, why = 'no server replica holds its session'): CutoverError {
  return new CutoverError(
    'AGENT_UNREACHABLE',
    `the agent of machine ${machine} is not connected to any server replica (${why}); it keeps serving and reconnects by itself (\`cutover machine show ${machine}\` shows its last heartbeat)`,
    { details: { machine } },
  );
}

export function relayTimeout(machine: string, type: string, timeoutMs: number): CutoverError {
  return new CutoverError('TIMEOUT', `the replica holding machine ${machine} did not answer ${type} within ${timeoutMs} ms`, {
    details: { machine, timeoutMs },
  });
}
