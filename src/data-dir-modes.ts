import { chmod, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from './shared/index.ts';
import { CREDENTIAL_FILES, LEGACY_CLI_FILE, migrateCredentials, privateDir } from './credentials.ts';

/**
 * File modes of a data directory, set on every start whatever they were before (`writeFile`'s
 * `mode` applies only when it creates a file, and a directory created beforehand keeps its mode:
 * review L4). Slots run under other uids and must traverse the data directory to reach their
 * release, so directories on that path are 0711 (enter, not list). Everything that holds a secret
 * or a record is 0600 **and** sits in a 0700 directory: a file in a 0711 directory is one chmod
 * (or one umask) away from every slot uid.
 *
 * | path | mode | why |
 * | --- | --- | --- |
 * | `<dataDir>/` | 0711 | slots traverse it to `agent/releases/…`, `agent/homes/…`; nobody else lists it |
 * | `private/` | 0700 | the server's and the agent's credentials and the database |
 * | `private/local-join.json` | 0600 | the single-use join token the server leaves for its own agent |
 * | `private/cutover.db`, `-wal`, `-shm` (the default SQLite database) | 0600 | token hashes, release env, audit |
 * | `artifacts/` (server) | 0700 | uploaded code, possibly with secrets |
 * | `agent/` | 0711 | slots traverse it to their release and state directories |
 * | `agent/private/` | 0700 | the agent's records |
 * | `agent/private/agent.pid`, `state.a`, `state.b` | 0600 | which process is the agent; instances, env |
 * | `agent/logs/`, `agent/artifacts/` | 0700 | slot output (may hold secrets an app prints), code |
 * | `cli.json` (an earlier version's, moved out by the server) | 0600 | the admin token |
 *
 * An earlier layout kept `agent-token`, `agent.json` and `cutover.db*` in `<dataDir>/` and the
 * agent's files in `agent/`: the first start moves them (a rename, logged): both processes remove
 * the control API's `agent-token` and `agent.json`, gone with agents dialling in (`migrateCredentials`), the server the default database ({@link
 * migrateDefaultDatabase}), the agent its own files (`migrateAgentFiles`). A database at a
 * configured path stays where it is; its directory is the operator's (a warning if other users
 * may enter it). The agent's per-instance release and state directories set their own owner
 * and modes (`agent/slot-dirs.ts`).
 */
export const DATA_DIR_MODE = 0o711;
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** The default SQLite database (the `database` setting's default is the same path). */
export const defaultDatabaseFile = (dataDir: string): string => join(privateDir(dataDir), 'cutover.db');

/** The server's part: run at every server start, before the store opens and again after it. */
export async function secureServerFiles(
  dataDir: string,
  database: string | undefined,
  log: Logger,
): Promise<void> {
  await secureRoot(dataDir, log);
  await ensureDir(join(dataDir, 'artifacts'), PRIVATE_DIR_MODE, log);
  await migrateDefaultDatabase(dataDir, database, log);
  await warnOpenDatabaseDir(dataDir, database, log);
  await secureDatabaseFiles(database, log);
}

/** Both processes' part: the data directory 0711, `private/` (see below), an earlier version's `cli.json` 0600. */
async function secureRoot(dataDir: string, log: Logger): Promise<void> {
  await ensureDir(dataDir, DATA_DIR_MODE, log);
  await securePrivateDir(dataDir, log);
  await tightenFile(join(dataDir, LEGACY_CLI_FILE), log);
}

/** `private/` 0700 with an earlier layout's credentials moved in, each file 0600. */
async function securePrivateDir(dataDir: string, log: Logger): Promise<void> {
  await ensureDir(privateDir(dataDir), PRIVATE_DIR_MODE, log);
  await migrateCredentials(dataDir, log);
  for (const name of CREDENTIAL_FILES) await tightenFile(join(privateDir(dataDir), name), log);
}

/**
 * Moves an earlier layout's `<dataDir>/cutover.db` (with its `-wal` and `-shm`) to
 * `private/cutover.db` when that is the database in use and does not exist yet. The WAL moves
 * first and the database last, so an interrupted move is finished at the next start (a `-wal` at
 * the new place without a database there can only be the old one's). Never while the new
 * database exists: a stray WAL beside another database would corrupt it. The server runs this
 * before it opens the store; nothing else opens the database.
 */
async function migrateDefaultDatabase(dataDir: string, database: string | undefined, log: Logger): Promise<void> {
  const target = defaultDatabaseFile(dataDir);
  if (database === undefined || resolve(database) !== resolve(target)) return;
  const legacy = join(dataDir, 'cutover.db');
  if (!(await exists(legacy))) return;
  if (await exists(target)) {
    log.warn({ file: legacy, inUse: target }, 'an earlier layout\'s database is left in place: the server uses the one in private/; move it away');
    return;
  }
  for (const suffix of ['-wal', '-shm']) {
    await rename(`${legacy}${suffix}`, `${target}${suffix}`).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await rename(legacy, target);
  log.warn({ from: legacy, to: target }, 'moved the database (with its -wal and -shm) to its new place');
}

/** A configured SQLite file elsewhere: its directory is the operator's; say so if other users may enter it. */
async function warnOpenDatabaseDir(dataDir: string, database: string | undefined, log: Logger): Promise<void> {
  if (!database || database === ':memory:' || database.includes('://')) return;
  if (resolve(database) === resolve(defaultDatabaseFile(dataDir))) return;
  const dir = dirname(resolve(database));
  const st = await stat(dir).catch(() => undefined);
  if (st && (st.mode & 0o011) !== 0) {
    log.warn(
      { database, dir, mode: octal(st.mode & 0o7777) },
      'other users may enter the directory of the database: keep it in a 0700 directory (chmod 700), as the default <dataDir>/private/ is',
    );
  }
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

/**
 * The agent's part: run at every agent start, before it reads or writes anything there. The
 * agent itself then moves an earlier layout's state and pid files into `agent/private/`, 0600
 * (`migrateAgentFiles`, in `startAgent`).
 */
export async function secureAgentFiles(dataDir: string, log: Logger): Promise<void> {
  await secureRoot(dataDir, log);
  const agentDir = join(dataDir, 'agent');
  await ensureDir(agentDir, DATA_DIR_MODE, log);
  // agent/private/: the agent's records (agent/agent-files.ts, which moves an earlier layout's there).
  const records = join(agentDir, 'private');
  await ensureDir(records, PRIVATE_DIR_MODE, log);
  // agent.pid, state.a, state.b and the copies --reset-state moved aside: every file there.
  for (const entry of await readdir(records, { withFileTypes: true }))
    if (entry.isFile()) await tightenFile(join(records, entry.name), log);
  for (const name of ['logs', 'artifacts']) await ensureDir(join(agentDir, name), PRIVATE_DIR_MODE, log);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/** Creates the directory with `mode`, or sets `mode` on an existing one (logged: a migration). */
async function ensureDir(dir: string, mode: number, log: Logger): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode });
  // Just created: the umask may have taken bits off; setting them is not worth a log line.
  if (created !== undefined) await chmod(dir, mode);
  else await setMode(dir, mode, log);
}

/** Sets 0600 on the file if it exists. */
async function tightenFile(file: string, log: Logger): Promise<void> {
  await setMode(file, PRIVATE_FILE_MODE, log);
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
