import type { ErrorCode } from './errors.ts';

/** What one error code means at each edge: the API's HTTP status and the CLI's exit code. */
export interface ErrorClass {
  http: number;
  exit: number;
}

// Exit codes by meaning; docs/operations.md ("Exit codes") has one row per value and a test keeps it true.
const BAD_INPUT = { http: 400, exit: 2 } as const;
const NOT_FOUND = { http: 404, exit: 3 } as const;
const CONFLICT = { http: 409, exit: 4 } as const;
const FAILED = { http: 422, exit: 7 } as const;
const POLICY = { http: 422, exit: 8 } as const;
const OTHER = { http: 500, exit: 1 } as const;

/**
 * Every error code's HTTP status and exit code: the one table both edges read. Typed as a full
 * `Record<ErrorCode, …>`, so a new code does not compile until both decisions are made here.
 */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorClass>> = {
  VALIDATION_FAILED: BAD_INPUT,
  MANIFEST_INVALID: BAD_INPUT,
  CONFIG_INVALID: BAD_INPUT,
  ARTIFACT_INVALID: BAD_INPUT,
  BODY_TOO_LARGE: { http: 413, exit: 2 },
  UNAUTHORIZED: { http: 401, exit: 5 },
  FORBIDDEN: { http: 403, exit: 5 },
  NOT_FOUND,
  APP_NOT_FOUND: NOT_FOUND,
  RELEASE_NOT_FOUND: NOT_FOUND,
  ARTIFACT_NOT_FOUND: NOT_FOUND,
  INSTANCE_NOT_FOUND: NOT_FOUND,
  DEPLOYMENT_NOT_FOUND: NOT_FOUND,
  SLOT_NOT_FOUND: NOT_FOUND,
  CHANNEL_NOT_FOUND: NOT_FOUND,
  PROBLEM_NOT_FOUND: NOT_FOUND,
  TOKEN_NOT_FOUND: NOT_FOUND,
  HOLD_NOT_FOUND: NOT_FOUND,
  HALT_NOT_FOUND: NOT_FOUND,
  RELEASE_EXISTS: CONFLICT,
  INSTANCE_EXISTS: CONFLICT,
  HOST_IN_USE: CONFLICT,
  PORT_IN_USE: CONFLICT,
  AGENT_RUNNING: CONFLICT,
  INSTANCE_LOCKED: CONFLICT,
  NOTHING_TO_ROLL_BACK: CONFLICT,
  ALREADY_ROLLED_BACK: CONFLICT,
  ALREADY_ON_VERSION: CONFLICT,
  SLOT_ACTIVE: CONFLICT,
  // 409 and 4 at both edges: the slot is not in a state for this yet (the tables used to disagree).
  SLOT_NOT_READY: CONFLICT,
  SLOT_BUSY: CONFLICT,
  CHANNEL_EXISTS: CONFLICT,
  CHANNEL_MOVED: CONFLICT,
  PROBLEM_RESOLVED: CONFLICT,
  TOKEN_EXISTS: CONFLICT,
  LAST_ADMIN_TOKEN: CONFLICT,
  SELECTION_CHANGED: CONFLICT,
  DEPLOYMENT_NOT_RUNNING: CONFLICT,
  DEPLOYMENT_FAILED: FAILED,
  DEPLOYMENT_ABORTED: FAILED,
  ANALYSIS_FAILED: FAILED,
  TEST_FAILED: FAILED,
  POLICY_SOAK_NOT_MET: POLICY,
  POLICY_OPEN_PROBLEMS: POLICY,
  POLICY_PRERELEASE: POLICY,
  AGENT_UNREACHABLE: { http: 502, exit: 6 },
  SERVER_UNREACHABLE: { http: 502, exit: 6 },
  TIMEOUT: { http: 504, exit: 1 },
  AUDIT_CHAIN_BROKEN: { http: 500, exit: 9 },
  // RFC 4918 §11.5: the server cannot store what the request needs.
  DISK_FULL: { http: 507, exit: 10 },
  // A stored artifact no longer hashes to its digest: the server's own damage, not the caller's.
  ARTIFACT_DIGEST_MISMATCH: OTHER,
  AGENT_STATE_INVALID: OTHER,
  DATABASE_CORRUPT: OTHER,
  INTERNAL: OTHER,
  // The server's own key files: not the caller's fault, and not fixed by trying again.
  SECRET_KEY_MISSING: OTHER,
  SECRET_KEY_INVALID: OTHER,
  APP_CONFIG_MISSING: POLICY,
  APP_CONFIG_CHANGED: CONFLICT,
  // The server's own TLS files (`server` start): bad input, never answered over HTTP.
  TLS_INVALID: BAD_INPUT,
  // The CLI or an agent does not trust the server's certificate: it cannot reach the server.
  TLS_UNTRUSTED: { http: 502, exit: 6 },
  // A join token or machine credential refused: as an API token would be.
  JOIN_TOKEN_INVALID: { http: 401, exit: 5 },
  JOIN_TOKEN_EXPIRED: { http: 401, exit: 5 },
  JOIN_TOKEN_USED: { http: 401, exit: 5 },
  JOIN_TOKEN_REVOKED: { http: 401, exit: 5 },
  MACHINE_CREDENTIAL_INVALID: { http: 401, exit: 5 },
  JOIN_TOKEN_NOT_FOUND: NOT_FOUND,
  MACHINE_NOT_FOUND: NOT_FOUND,
  MACHINE_EXISTS: CONFLICT,
  // An agent's protocol version the server does not speak: the two sides' versions conflict.
  PROTOCOL_UNSUPPORTED: CONFLICT,
  MACHINE_REQUIRED: POLICY,
  MACHINE_NOT_ACTIVE: CONFLICT,
  MACHINE_IN_USE: CONFLICT,
  INSTANCE_MOVE_UNSUPPORTED: CONFLICT,
};

/**
 * `cutover status` finding an instance not routed as recorded: an answer, not an error code, that
 * must still fail a script (docs/operations.md, "Exit codes").
 */
export const EXIT_NOT_ROUTED_AS_RECORDED = 11;

/**
 * A code's class; one this build does not know (a newer server's or agent's) is "other":
 * HTTP 500, exit 1.
 */
export function errorClassOf(code: string): ErrorClass {
  return Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code as ErrorCode] : OTHER;
}

/** The HTTP status for an error code (the API's and the agent's error handlers). */
export const httpStatusFor = (code: string): number => errorClassOf(code).http;

/** The CLI's exit code for an error code. */
export const exitCodeFor = (code: string): number => errorClassOf(code).exit;
