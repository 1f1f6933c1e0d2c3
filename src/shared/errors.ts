/**
 * The one error class Cutover throws across subsystem boundaries.
 *
 * Every error carries a stable machine `code` (clients switch on it), a human `message`
 * that says how to fix the problem, optional structured `details`, and a `cause`.
 * Codes map to HTTP statuses and CLI exit codes once, in one table (`src/shared/error-table.ts`).
 * Messages and details must never contain secrets.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MANIFEST_INVALID'
  | 'CONFIG_INVALID'
  | 'APP_NOT_FOUND'
  | 'RELEASE_NOT_FOUND'
  | 'RELEASE_EXISTS'
  | 'ARTIFACT_NOT_FOUND'
  | 'ARTIFACT_INVALID'
  | 'BODY_TOO_LARGE'
  | 'ARTIFACT_DIGEST_MISMATCH'
  | 'INSTANCE_NOT_FOUND'
  | 'INSTANCE_EXISTS'
  | 'HOST_IN_USE'
  | 'PORT_IN_USE'
  | 'AGENT_RUNNING'
  | 'INSTANCE_LOCKED'
  | 'DEPLOYMENT_NOT_FOUND'
  | 'NOTHING_TO_ROLL_BACK'
  | 'ALREADY_ROLLED_BACK'
  | 'ALREADY_ON_VERSION'
  | 'SLOT_NOT_FOUND'
  | 'SLOT_ACTIVE'
  | 'SLOT_NOT_READY'
  | 'SLOT_BUSY'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'AGENT_UNREACHABLE'
  | 'SERVER_UNREACHABLE'
  | 'DEPLOYMENT_FAILED'
  | 'DEPLOYMENT_ABORTED'
  | 'DEPLOYMENT_NOT_RUNNING'
  | 'ANALYSIS_FAILED'
  | 'TEST_FAILED'
  | 'TIMEOUT'
  | 'CHANNEL_NOT_FOUND'
  | 'CHANNEL_EXISTS'
  | 'CHANNEL_MOVED'
  | 'POLICY_SOAK_NOT_MET'
  | 'POLICY_OPEN_PROBLEMS'
  | 'POLICY_PRERELEASE'
  | 'PROBLEM_NOT_FOUND'
  | 'PROBLEM_RESOLVED'
  | 'TOKEN_NOT_FOUND'
  | 'TOKEN_EXISTS'
  | 'LAST_ADMIN_TOKEN'
  | 'SELECTION_CHANGED'
  | 'AUDIT_CHAIN_BROKEN'
  | 'HOLD_NOT_FOUND'
  | 'HALT_NOT_FOUND'
  /** The agent's state files exist and none validates; it starts only with `--reset-state`. */
  | 'AGENT_STATE_INVALID'
  /** The disk holding a data directory is full (SQLITE_FULL, ENOSPC); the message names the directory. */
  | 'DISK_FULL'
  /** The database is damaged, unreadable, or empty where it should not be; the server does not start. */
  | 'DATABASE_CORRUPT'
  /** The TLS certificate or key file cannot be used (unreadable, not PEM, or a key other users may read). */
  | 'TLS_INVALID'
  /** The client does not trust the server's certificate: give its CA with `--ca-file`. */
  | 'TLS_UNTRUSTED'
  /** A join token the server does not know (or not a join token at all). */
  | 'JOIN_TOKEN_INVALID'
  | 'JOIN_TOKEN_EXPIRED'
  | 'JOIN_TOKEN_USED'
  | 'JOIN_TOKEN_REVOKED'
  | 'JOIN_TOKEN_NOT_FOUND'
  | 'MACHINE_NOT_FOUND'
  /** A live machine (active or draining) already has the name. */
  | 'MACHINE_EXISTS'
  /** A machine credential that is unknown, rotated away, or of a removed machine. */
  | 'MACHINE_CREDENTIAL_INVALID'
  /** An agent's protocol version this server does not accept (it accepts its own and the one before). */
  | 'PROTOCOL_UNSUPPORTED'
  /** Several machines could take a new instance: `--machine NAME` must say which. */
  | 'MACHINE_REQUIRED'
  /** A draining or removed machine takes no new instances. */
  | 'MACHINE_NOT_ACTIVE'
  /** A machine that still has instances cannot be removed. */
  | 'MACHINE_IN_USE'
  /** An instance with a deployed release cannot move to another machine yet ("Instances across machines"). */
  | 'INSTANCE_MOVE_UNSUPPORTED'
  /** The server has no key file for a key id the app config uses; the message names it. */
  | 'SECRET_KEY_MISSING'
  /** A key file whose check value differs from the stored one, or that fails to decrypt. */
  | 'SECRET_KEY_INVALID'
  /** A release's `requires:` key that no app-config layer of the instance provides. */
  | 'APP_CONFIG_MISSING'
  /** The app config changed between read and write (another replica); try again. */
  | 'APP_CONFIG_CHANGED'
  | 'INTERNAL';

export interface ErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CutoverError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CutoverError';
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isCutoverError(value: unknown): value is CutoverError {
  return value instanceof CutoverError;
}

/** One problem found while validating input, addressed by its path (`health.interval`, `components[1].name`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Builds the error for invalid input, listing every issue by path in the message and in `details.issues`. */
export function invalidInput(
  code: 'VALIDATION_FAILED' | 'MANIFEST_INVALID' | 'CONFIG_INVALID',
  what: string,
  issues: FieldIssue[],
): CutoverError {
  const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
  return new CutoverError(code, `${what} is invalid; fix these fields:\n${lines}`, { details: { issues } });
}

/**
 * `DISK_FULL` naming `dir` when `error` says the disk is full (`ENOSPC`, or SQLite's
 * `SQLITE_FULL` "database or disk is full"), else `undefined`. Callers map at their boundary,
 * so an operator reads which directory to free instead of `INTERNAL`.
 */
export function diskFullError(error: unknown, dir: string): CutoverError | undefined {
  if (isCutoverError(error)) return error.code === 'DISK_FULL' ? error : undefined;
  const e = error as { code?: unknown; errcode?: unknown; errstr?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return undefined;
  // node:sqlite: code 'ERR_SQLITE_ERROR', errcode 13 (SQLITE_FULL; extended codes keep it in the low byte).
  const sqliteFull = typeof e.errcode === 'number' && (e.errcode & 0xff) === 13;
  const full = e.code === 'ENOSPC' || sqliteFull || (typeof e.message === 'string' && /database or disk is full|ENOSPC/.test(e.message));
  if (!full) return undefined;
  return new CutoverError('DISK_FULL', `the disk holding ${dir} is full; free space there and try again`, {
    details: { directory: dir },
    cause: error,
  });
}
