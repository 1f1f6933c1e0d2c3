import { invalidInput, isColor, systemClock } from '../shared/index.ts';
import type { Clock, FieldIssue } from '../shared/index.ts';
import { parseCidrs } from './cidr.ts';
import type { CidrSet } from './cidr.ts';
import { hstsValue } from './edge-policy.ts';
import { normaliseHost } from './headers.ts';
import type { MaintenancePage } from './maintenance.ts';
import type { RouterOptions } from './router-types.ts';
import type { UpstreamTarget } from './upstream.ts';

/** Router options with every default applied. */
export interface ResolvedRouterOptions {
  upstreamTimeoutMs: number;
  drainTimeoutMs: number;
  connectionsPerUpstream: number;
  pauseTimeoutMs: number;
  skewGraceMs: number;
  wsDrainTimeoutMs: number;
  streamGraceMs: number;
  maxBodyBytes: number;
  clientHeadersTimeoutMs: number;
  clientRequestTimeoutMs: number;
  clientIdleTimeoutMs: number;
  versionHeartbeatMs: number;
  fastPath: boolean;
  clock: Clock;
  /** Null when no proxy is trusted. */
  trustedProxies: CidrSet | null;
  redirectHttp: boolean;
  /** The `Strict-Transport-Security` value, or null when off. */
  hsts: string | null;
}

// Header values reach clients verbatim: no control characters (CR/LF would split the response).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function integer(
  value: number | undefined,
  fallback: number,
  path: string,
  min: number,
  issues: FieldIssue[],
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    issues.push({ path, message: `must be an integer ≥ ${min}, got ${String(value)}` });
  }
  return value;
}

/** Applies defaults and validates; throws `CONFIG_INVALID` listing every bad key. */
export function resolveRouterOptions(options: RouterOptions): ResolvedRouterOptions {
  const issues: FieldIssue[] = [];
  const resolved: ResolvedRouterOptions = {
    upstreamTimeoutMs: integer(options.upstreamTimeoutMs, 60_000, 'upstreamTimeoutMs', 1, issues),
    drainTimeoutMs: integer(options.drainTimeoutMs, 30_000, 'drainTimeoutMs', 1, issues),
    connectionsPerUpstream: integer(options.connectionsPerUpstream, 128, 'connectionsPerUpstream', 1, issues),
    pauseTimeoutMs: integer(options.pauseTimeoutMs, 5000, 'pauseTimeoutMs', 0, issues),
    skewGraceMs: integer(options.skewGraceMs, 300_000, 'skewGraceMs', 0, issues),
    wsDrainTimeoutMs: integer(options.wsDrainTimeoutMs, 60_000, 'wsDrainTimeoutMs', 0, issues),
    streamGraceMs: integer(options.streamGraceMs, 5000, 'streamGraceMs', 0, issues),
    maxBodyBytes: integer(options.maxBodyBytes, 100 * 1024 * 1024, 'maxBodyBytes', 0, issues),
    clientHeadersTimeoutMs: integer(
      options.clientHeadersTimeoutMs,
      60_000,
      'clientHeadersTimeoutMs',
      1,
      issues,
    ),
    clientRequestTimeoutMs: integer(
      options.clientRequestTimeoutMs,
      300_000,
      'clientRequestTimeoutMs',
      1,
      issues,
    ),
    clientIdleTimeoutMs: integer(options.clientIdleTimeoutMs, 60_000, 'clientIdleTimeoutMs', 1, issues),
    versionHeartbeatMs: integer(options.versionHeartbeatMs, 25_000, 'versionHeartbeatMs', 1, issues),
    fastPath: options.fastPath ?? true,
    clock: options.clock ?? systemClock,
    trustedProxies: trustedProxies(options.trustedProxies, issues),
    redirectHttp: options.redirectHttp === true,
    hsts: checkedHsts(options.hsts, issues),
  };
  if (options.redirectHttp !== undefined && typeof options.redirectHttp !== 'boolean') {
    issues.push({ path: 'redirectHttp', message: 'must be true or false' });
  }
  if (typeof resolved.fastPath !== 'boolean') issues.push({ path: 'fastPath', message: 'must be true or false' });
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (resolved.clientHeadersTimeoutMs > resolved.clientRequestTimeoutMs) {
    issues.push({
      path: 'clientHeadersTimeoutMs',
      message: `must not exceed clientRequestTimeoutMs (${resolved.clientRequestTimeoutMs})`,
    });
  }
  if (issues.length > 0) throw invalidInput('CONFIG_INVALID', 'router options', issues);
  return resolved;
}

function trustedProxies(list: readonly string[] | undefined, issues: FieldIssue[]): CidrSet | null {
  if (list === undefined) return null;
  const parsed = parseCidrs(list, 'trustedProxies');
  issues.push(...parsed.issues);
  return parsed.set.size === 0 ? null : parsed.set;
}

function checkedHsts(hsts: RouterOptions['hsts'], issues: FieldIssue[]): string | null {
  if (hsts === undefined || typeof hsts === 'boolean') return hstsValue(hsts);
  const maxAge = (hsts as { maxAgeSeconds?: unknown } | null)?.maxAgeSeconds;
  if (typeof maxAge !== 'number' || !Number.isSafeInteger(maxAge) || maxAge < 0) {
    issues.push({ path: 'hsts.maxAgeSeconds', message: 'must be an integer ≥ 0 (seconds; 31536000 is a year)' });
    return null;
  }
  if (hsts.includeSubDomains !== undefined && typeof hsts.includeSubDomains !== 'boolean') {
    issues.push({ path: 'hsts.includeSubDomains', message: 'must be true or false when set' });
  }
  return hstsValue(hsts);
}

/** Throws `VALIDATION_FAILED` for a target the router cannot serve. */
export function checkUpstreamTarget(target: UpstreamTarget): void {
  const issues: FieldIssue[] = [];
  if (!isColor(target.color)) issues.push({ path: 'color', message: 'must be "blue" or "green"' });
  if (typeof target.version !== 'string' || target.version === '' || !HEADER_VALUE.test(target.version)) {
    issues.push({ path: 'version', message: 'must be a non-empty string without control characters' });
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    issues.push({ path: 'port', message: 'must be an integer from 1 to 65535' });
  }
  if (target.host !== undefined && (typeof target.host !== 'string' || target.host === '')) {
    issues.push({ path: 'host', message: 'must be a non-empty string when set' });
  }
  if (
    target.deploymentId !== undefined &&
    (typeof target.deploymentId !== 'string' || !HEADER_VALUE.test(target.deploymentId))
  ) {
    issues.push({ path: 'deploymentId', message: 'must be a string without control characters when set' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'upstream target', issues);
}

/** Throws `VALIDATION_FAILED` unless `weight` is an integer percentage. */
export function checkWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw invalidInput('VALIDATION_FAILED', 'shift weight', [
      { path: 'weightPercent', message: `must be an integer from 0 to 100, got ${String(weight)}` },
    ]);
  }
}

/** Throws `VALIDATION_FAILED` for a preview token too weak or unsafe to carry in a header. */
export function checkPreviewToken(token: string | null): void {
  if (token === null) return;
  if (typeof token !== 'string' || token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) {
    throw invalidInput('VALIDATION_FAILED', 'preview token', [
      { path: 'token', message: 'must be at least 16 printable ASCII characters without spaces' },
    ]);
  }
}

/** Throws `VALIDATION_FAILED` for a bad maintenance page. */
export function checkMaintenance(page: MaintenancePage | null): void {
  if (page === null) return;
  const issues: FieldIssue[] = [];
  if (page.html !== undefined && typeof page.html !== 'string') {
    issues.push({ path: 'html', message: 'must be a string when set' });
  }
  if (
    page.retryAfterSeconds !== undefined &&
    (!Number.isInteger(page.retryAfterSeconds) || page.retryAfterSeconds < 0)
  ) {
    issues.push({ path: 'retryAfterSeconds', message: 'must be a non-negative integer when set' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'maintenance page', issues);
}

/** Throws `VALIDATION_FAILED` unless `ms` is a non-negative integer. */
export function checkGrace(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw invalidInput('VALIDATION_FAILED', 'skew grace', [
      { path: 'ms', message: `must be a non-negative integer, got ${String(ms)}` },
    ]);
  }
}

/** Throws `VALIDATION_FAILED` for a bad instance name or host; returns the normalised hosts. */
export function checkInstance(name: string, hosts: string[]): Set<string> {
  const issues: FieldIssue[] = [];
  if (typeof name !== 'string' || name === '')
    issues.push({ path: 'name', message: 'must be a non-empty string' });
  const normalised = new Set<string>();
  hosts.forEach((host, i) => {
    const h = typeof host === 'string' ? normaliseHost(host) : '';
    if (h === '') issues.push({ path: `hosts[${i}]`, message: 'must be a non-empty host name' });
    else normalised.add(h);
  });
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', `router instance "${name}"`, issues);
  return normalised;
}
