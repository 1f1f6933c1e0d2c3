// Bounds on a release's `env` and on what the supervisor will hand to execve. The same limits
// apply to the YAML manifest (the CLI finds problems before it packs anything) and to the API
// body (the server refuses what the CLI did not check). Values are never quoted back: people put
// secrets in env despite the documentation, and errors end up in logs and audit entries.

/** Most variables a release may set. */
export const ENV_MAX_KEYS = 1000;
/** Longest variable name, in bytes. */
export const ENV_MAX_KEY_BYTES = 256;
/** Longest single value, in UTF-8 bytes. */
export const ENV_MAX_VALUE_BYTES = 32 * 1024;
/**
 * Most bytes of the release's env plus the start command's argv (`/bin/sh -c <start>`), counted
 * as execve counts them (`KEY=value\0`, each argument plus its NUL). Linux refuses an exec whose
 * argv + envp exceed ARG_MAX, which is a quarter of the stack limit but never less than 128 KiB,
 * and any single string over 128 KiB (MAX_ARG_STRLEN): 64 KiB leaves the other half for the
 * variables the supervisor adds (PORT, PATH, HOME, CUTOVER_*…) on any Linux, so a release that
 * passes here never fails at spawn with E2BIG. It also keeps the release small where it is
 * copied: every release listing and every agent state write.
 */
export const SPAWN_MAX_BYTES = 64 * 1024;

/** One env problem: `keys` below `env` (empty for the env as a whole) and a message without the value. */
export interface EnvProblem {
  keys: string[];
  message: string;
}

/** A key as it may be shown: short and with control characters escaped. */
function showKey(key: string): string {
  const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  return JSON.stringify(shown);
}

/** Whether a key is short and clean enough to appear in an issue's path. */
export function keyFitsPath(key: string): boolean {
  return Buffer.byteLength(key) <= ENV_MAX_KEY_BYTES && !key.includes('\0');
}

/** Problems with the size and content of individual variables (names are checked elsewhere). */
export function envEntryProblems(env: Record<string, unknown>): EnvProblem[] {
  const problems: EnvProblem[] = [];
  const keys = Object.keys(env);
  if (keys.length > ENV_MAX_KEYS) {
    problems.push({ keys: [], message: `has ${keys.length} variables; at most ${ENV_MAX_KEYS} are allowed` });
  }
  for (const key of keys) {
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > ENV_MAX_KEY_BYTES) {
      // The path would repeat the whole key; name it shortened at the env instead.
      problems.push({ keys: [], message: `variable ${showKey(key)} has a ${keyBytes}-byte name; at most ${ENV_MAX_KEY_BYTES} bytes` });
      continue;
    }
    if (key.includes('\0')) {
      problems.push({ keys: [], message: `variable ${showKey(key)} has a NUL byte in its name, which no process can receive` });
      continue;
    }
    const value = env[key];
    if (typeof value !== 'string') continue;
    if (value.includes('\0')) {
      problems.push({ keys: [key], message: 'contains a NUL byte, which no process can receive; remove it (the value is not shown)' });
    }
    const valueBytes = Buffer.byteLength(value);
    if (valueBytes > ENV_MAX_VALUE_BYTES) {
      problems.push({ keys: [key], message: `is ${valueBytes} bytes long; at most ${ENV_MAX_VALUE_BYTES} bytes per value` });
    }
  }
  return problems;
}

/** Bytes execve copies for the start command and the release's env (see {@link SPAWN_MAX_BYTES}). */
function spawnBytes(start: string, env: Record<string, string>): number {
  let total = Buffer.byteLength('/bin/sh\0-c\0') + Buffer.byteLength(start) + 1;
  for (const [key, value] of Object.entries(env)) total += Buffer.byteLength(key) + Buffer.byteLength(value) + 2;
  return total;
}

/** The problem, if any, with the env and start command together being too large to exec. */
export function spawnSizeProblem(start: string, env: Record<string, string>): EnvProblem | undefined {
  const total = spawnBytes(start, env);
  if (total <= SPAWN_MAX_BYTES) return undefined;
  return {
    keys: [],
    message: `is ${total} bytes together with the start command; at most ${SPAWN_MAX_BYTES} bytes (names, values and start as the process receives them); move large values into files in the artifact`,
  };
}
