import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './shared/index.ts';

/**
 * File modes of a data directory, set on every start whatever they were before (`writeFile`'s
 * `mode` applies only when it creates a file, and a directory created beforehand keeps its mode:
 * review L4). Slots run under other uids and must traverse the data directory to reach their
 * release, so directories on that path are 0711 (enter, not list); everything that holds a
 * secret or a record is 0600, or sits in a 0700 directory.
 *
 * | path | mode | why |
 * | --- | --- | --- |
 * | `<dataDir>/` | 0711 | slots traverse it to `agent/releases/…`; nobody else lists it |
 * | `agent-token`, `agent.json`, `cli.json` (an earlier version's) | 0600 | credentials |
 * | the SQLite database, `-wal`, `-shm` | 0600 | token hashes, release env, audit |
 * | `artifacts/` (server) | 0700 | uploaded code, possibly with secrets |
 * | `agent/` | 0711 | slots traverse it to their release directory |
 * | `agent/agent.pid`, `agent/state.a`, `agent/state.b` | 0600 | the agent's records |
 * | `agent/logs/`, `agent/artifacts/` | 0700 | slot output (may hold secrets an app prints), code |
 *
 * The agent's per-instance release and state directories set their own owner and modes.
 */
export const DATA_DIR_MODE = 0o711;
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Files of the data directory itself that hold credentials. */
const CREDENTIAL_FILES = ['agent-token', 'agent.json', 'cli.json'];

/** The server's part: run at every server start, before the store opens and again after it. */
export async function secureServerFiles(
  dataDir: string,
  database: string | undefined,
  log: Logger,
): Promise<void> {
  await ensureDir(dataDir, DATA_DIR_MODE, log);
  for (const name of CREDENTIAL_FILES) await tightenFile(join(dataDir, name), log);
  await ensureDir(join(dataDir, 'artifacts'), PRIVATE_DIR_MODE, log);
  await secureDatabaseFiles(database, log);
}

/**
 * The SQLite database and its WAL and shared-memory files (SQLite creates those with the
 * database file's mode, but one created by an earlier version kept 0644). A PostgreSQL URL has
 * no local files.
 */
export async function secureDatabaseFiles(database: string | undefined, log: Logger): Promise<void> {
  if (!database || database === ':memory:' || database.includes('://')) return;
  for (const file of [database, `${database}-wal`, `${database}-shm`]) await tightenFile(file, log);
}

/** The agent's part: run at every agent start, before it reads or writes anything there. */
export async function secureAgentFiles(dataDir: string, log: Logger): Promise<void> {
  await ensureDir(dataDir, DATA_DIR_MODE, log);
  for (const name of CREDENTIAL_FILES) await tightenFile(join(dataDir, name), log);
  const agentDir = join(dataDir, 'agent');
  await ensureDir(agentDir, DATA_DIR_MODE, log);
  for (const name of ['agent.pid', 'state.a', 'state.b']) await tightenFile(join(agentDir, name), log);
  for (const name of ['logs', 'artifacts']) await ensureDir(join(agentDir, name), PRIVATE_DIR_MODE, log);
}

/** Creates the directory with `mode`, or sets `mode` on an existing one (logged: a migration). */
export async function ensureDir(dir: string, mode: number, log: Logger): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode });
  // Just created: the umask may have taken bits off; setting them is not worth a log line.
  if (created !== undefined) await chmod(dir, mode);
  else await setMode(dir, mode, log);
}

/** Sets 0600 on the file if it exists. */
export async function tightenFile(file: string, log: Logger, mode = PRIVATE_FILE_MODE): Promise<void> {
  await setMode(file, mode, log);
}

async function setMode(path: string, mode: number, log: Logger): Promise<void> {
  let current: number;
  try {
    current = (await stat(path)).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (current === mode) return;
  await chmod(path, mode);
  // A warning, so `up` (log level warn) shows it: the file was more open than it should be.
  log.warn({ path, from: octal(current), to: octal(mode) }, 'set the mode of a data-directory file');
}

const octal = (mode: number) => `0${mode.toString(8)}`;

/**
 * Runs `open` with the umask 077, so the files it creates (SQLite creates the database, `-wal` and
 * `-shm` as 0644 less the umask) are private from their first moment: a chmod afterwards would
 * leave a window in which another user could open the file and keep the descriptor. The SQLite
 * store creates its files synchronously inside the call, before anything else can run.
 */
export async function withPrivateUmask<T>(open: () => Promise<T>): Promise<T> {
  const previous = process.umask(0o077);
  try {
    return await open();
  } finally {
    process.umask(previous);
  }
}
