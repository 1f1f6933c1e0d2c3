import type { ErrorCode } from './errors.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  MANIFEST_INVALID: 400,
  CONFIG_INVALID: 400,
  ARTIFACT_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  APP_NOT_FOUND: 404,
  RELEASE_NOT_FOUND: 404,
  ARTIFACT_NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  SLOT_NOT_FOUND: 404,
  RELEASE_EXISTS: 409,
  INSTANCE_EXISTS: 409,
  HOST_IN_USE: 409,
  INSTANCE_LOCKED: 409,
  NOTHING_TO_ROLL_BACK: 409,
  ALREADY_ON_VERSION: 409,
  CHANNEL_EXISTS: 409,
  CHANNEL_MOVED: 409,
  PROBLEM_RESOLVED: 409,
  TOKEN_EXISTS: 409,
  LAST_ADMIN_TOKEN: 409,
  SELECTION_CHANGED: 409,
  POLICY_SOAK_NOT_MET: 422,
  POLICY_OPEN_PROBLEMS: 422,
  POLICY_PRERELEASE: 422,
  DEPLOYMENT_FAILED: 422,
  DEPLOYMENT_ABORTED: 422,
  ANALYSIS_FAILED: 422,
  DEPLOYMENT_NOT_RUNNING: 409,
  AGENT_UNREACHABLE: 502,
  TIMEOUT: 504,
  // RFC 4918 §11.5: the server cannot store what the request needs.
  DISK_FULL: 507,
};

/** The HTTP status for an error code: the one place codes become statuses. */
export function httpStatusFor(code: string): number {
  if (code in STATUS) return STATUS[code as ErrorCode]!;
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (code.startsWith('SLOT_')) return 409;
  return 500;
}
