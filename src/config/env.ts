import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The one module that reads `process.env`. Everything else receives values from here.
 */
export function readEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** Where the CLI finds the server: `CUTOVER_URL` and `CUTOVER_TOKEN`, else the local data directory; `CUTOVER_CA_FILE`: the CA it trusts. */
export function cliEnv(): { url?: string; token?: string; dataDir?: string; timeout?: string; caFile?: string } {
  return {
    ...(process.env.CUTOVER_CA_FILE ? { caFile: process.env.CUTOVER_CA_FILE } : {}),
    ...(process.env.CUTOVER_TIMEOUT ? { timeout: process.env.CUTOVER_TIMEOUT } : {}),
    ...(process.env.CUTOVER_URL ? { url: process.env.CUTOVER_URL } : {}),
    ...(process.env.CUTOVER_TOKEN ? { token: process.env.CUTOVER_TOKEN } : {}),
    ...(process.env.CUTOVER_DATA_DIR ? { dataDir: process.env.CUTOVER_DATA_DIR } : {}),
  };
}

/**
 * The CI's own variables, for `release publish` to record where a release was built: GitHub
 * Actions' `GITHUB_*` and the generic `CI_*` that GitLab CI sets (read by `ciProvenance`).
 */
export function ciEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GITHUB_') || k.startsWith('CI_')));
}

/**
 * `CUTOVER_JOIN_TOKEN`: the join token of an agent's first start with `server`. Not a setting (a
 * secret has no place in the settings object, files or flags), read here like every variable.
 */
export function joinTokenFromEnv(): string | undefined {
  return process.env.CUTOVER_JOIN_TOKEN || undefined;
}

/**
 * `CUTOVER_METRICS_TOKEN`: the bearer token a scraper of the agent's `metricsListen` must send (else
 * `metricsTokenFile`). Not a setting, like the join token: a secret stays out of the settings object.
 */
export function metricsTokenFromEnv(): string | undefined {
  return process.env.CUTOVER_METRICS_TOKEN || undefined;
}

/**
 * The directory of the CLI's contexts file (its credentials): `$XDG_CONFIG_HOME/cutover`, else
 * `$HOME/.config/cutover` (XDG Base Directory spec), else the user's home from the system.
 */
export function cliConfigDir(): string {
  return xdgDir('XDG_CONFIG_HOME', '.config', 'cutover');
}

/**
 * Where the CLI keeps V8's compiled code between runs (`module.enableCompileCache`):
 * `$XDG_CACHE_HOME/cutover/compile-cache`, else `$HOME/.cache/cutover/compile-cache`. Per user,
 * not Node's default under the shared temp directory, where another user could plant entries.
 */
export function cliCacheDir(): string {
  // bin/cutover passes it to Node (so the entry file is cached too); no child process inherits it.
  delete process.env.NODE_COMPILE_CACHE;
  return xdgDir('XDG_CACHE_HOME', '.cache', 'cutover', 'compile-cache');
}

/** `$<variable>/<sub…>`, else `$HOME/<fallback>/<sub…>` (else the user's home from the system). */
function xdgDir(variable: string, fallback: string, ...sub: string[]): string {
  const base = process.env[variable];
  // The XDG Base Directory spec says a relative path in these variables is invalid and must be ignored.
  if (base && isAbsolute(base)) return join(base, ...sub);
  return join(process.env.HOME || homedir(), fallback, ...sub);
}
