/**
 * The one error class Cutover throws across subsystem boundaries.
 *
 * Every error carries a stable machine `code` (clients switch on it), a human `message`
 * that says how to fix the problem, optional structured `details`, and a `cause`.
 * Codes map to HTTP statuses once (`src/shared/http-status.ts`), to CLI exit codes once (`src/cli/output.ts`).
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
  | 'INSTANCE_NOT_FOUND'
  | 'INSTANCE_EXISTS'
  | 'HOST_IN_USE'
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
