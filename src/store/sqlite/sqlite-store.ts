import { DatabaseSync } from 'node:sqlite';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CutoverError, diskFullError } from '../../shared/index.ts';
import { decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';
import type { Store } from '../store.ts';
import { migrate } from './migrate.ts';
import { releaseFromSqlite, tokenFromSqlite } from './sqlite-rows.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { createSqliteAuditLog } from './sqlite-audit.ts';
import { createSqliteChannels } from './sqlite-channels.ts';
import { createSqliteDeployments } from './sqlite-deployments.ts';
import { createSqliteFleet } from './sqlite-fleet.ts';
import { createSqliteMachines } from './sqlite-machines.ts';
import { createSqliteAppConfig } from './sqlite-app-config.ts';
import { createSqliteEdgeCertificates } from './sqlite-edge-certs.ts';
import { createSqliteInstances } from './sqlite-instances.ts';
import { createSqliteLeases } from './sqlite-leases.ts';
import { createSqliteProblems } from './sqlite-problems.ts';

/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode so readers never block
 * the writer. node:sqlite is synchronous; each call is a short indexed statement on a local file,
 * so it is run inline rather than on a worker thread. Being synchronous also makes every method
 * atomic within the process: no other call runs between a method's statements.
 */
export function createSqliteStore(file: string, options: { log?: RowLog } = {}): Store {
  const dir = file === ':memory:' ? '(memory)' : dirname(file);
  if (file !== ':memory:') {
    mkdirSync(dir, { recursive: true });
    refuseEmptyDatabaseOfUsedDirectory(file);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch (error) {
    throw diskFullError(error, dir) ?? error;
  }
  try {
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last commits.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA foreign_keys = ON');
    checkIntegrity(db, file);
    migrate(db);
  } catch (error) {
    db.close();
    throw diskFullError(error, dir) ?? error;
  }

  const q = {
    insertRelease: db.prepare(
      'INSERT INTO releases (app, version, digest, spec, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    getRelease: db.prepare('SELECT * FROM releases WHERE app = ? AND version = ?'),
    listReleases: db.prepare('SELECT * FROM releases ORDER BY created_at DESC, seq DESC'),
    listReleasesOfApp: db.prepare('SELECT * FROM releases WHERE app = ? ORDER BY created_at DESC, seq DESC'),
    listApps: db.prepare('SELECT DISTINCT app FROM releases ORDER BY app'),
    // A name or a hash already taken: DO NOTHING covers both unique constraints.
    insertToken: db.prepare(
      'INSERT INTO tokens (hash, name, role, created_at, created_by, channels) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    findToken: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
    listTokens: db.prepare('SELECT * FROM tokens ORDER BY name'),
    deleteToken: db.prepare('DELETE FROM tokens WHERE name = ?'),
    countTokens: db.prepare('SELECT count(*) AS n FROM tokens'),
  };

  const audit = createSqliteAuditLog(db, options.log);

  return mapDiskFull(dir, {
    async insertRelease(r) {
      const res = q.insertRelease.run(
        r.app,
        r.version,
        r.digest,
        JSON.stringify(r.spec),
        r.createdAt,
        r.createdBy,
      );
      return Number(res.changes) === 1;
    },
    async getRelease(app, version) {
      const row = q.getRelease.get(app, version) as SqliteRow | undefined;
      return row && releaseFromSqlite(row);
    },
    async listReleases(app) {
      const rows = (app === undefined ? q.listReleases.all() : q.listReleasesOfApp.all(app)) as SqliteRow[];
      return decodeRows(rows, releaseFromSqlite, 'releases', (r) => `${String(r.app)}@${String(r.version)}`, options.log);
    },
    async listApps() {
      return (q.listApps.all() as SqliteRow[]).map((r) => r.app as string);
    },
    ...createSqliteInstances(db, audit, options.log),
    ...createSqliteDeployments(db, options.log),
    ...createSqliteLeases(db, audit),
    async insertToken(t) {
      return Number(q.insertToken.run(t.hash, t.name, t.role, t.createdAt, t.createdBy, t.channels ? JSON.stringify(t.channels) : null).changes) === 1;
    },
    async findTokenByHash(hash) {
      const r = q.findToken.get(hash) as SqliteRow | undefined;
      return r && tokenFromSqlite(r);
    },
    async listTokens() {
      return (q.listTokens.all() as SqliteRow[]).map(tokenFromSqlite);
    },
    async deleteToken(name) {
      return Number(q.deleteToken.run(name).changes) === 1;
    },
    async countTokens() {
      return Number((q.countTokens.get() as SqliteRow).n);
    },
    ...audit.methods,
    ...createSqliteChannels(db, audit, options.log),
    ...createSqliteProblems(db),
    ...createSqliteFleet(db, audit),
    ...createSqliteMachines(db, audit),
    ...createSqliteAppConfig(db, audit),
    ...createSqliteEdgeCertificates(db, audit),
    async close() {
      if (db.isOpen) db.close();
    },
  });
}

/**
 * A zero-length database file in a directory that shows earlier use (the server's `artifacts/`,
 * the CLI's `cli.json`, or an agent state file beside it) is a lost database, not a fresh
 * install: opening it would silently start over with no releases, instances, tokens or audit log.
 */
function refuseEmptyDatabaseOfUsedDirectory(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // no file: a fresh install
  }
  if (size > 0) return;
  // The default database is `<dataDir>/private/cutover.db`; an earlier layout's sat in `<dataDir>/`.
  const dir = basename(dirname(file)) === 'private' ? dirname(dirname(file)) : dirname(file);
  // Each appears only after the database was written: an upload, the first start's credentials,
  // an agent state (the agent routes an instance only once the server recorded it). Not `agent/`
  // alone: under `up` the agent creates it before the server first opens the database.
  const states = ['state.a', 'state.b'].flatMap((f) => [join('agent', 'private', f), join('agent', f)]);
  const signs = ['artifacts', 'cli.json', ...states].filter((name) => existsSync(join(dir, name)));
  if (signs.length === 0) return;
  throw new CutoverError(
    'DATABASE_CORRUPT',
    `the database ${file} is empty (0 bytes), but ${dir} was used before (it holds ${signs.join(', ')}); refusing to start over as a fresh install. Restore the database from a backup, or move the directory aside to start afresh`,
    { details: { file, signs } },
  );
}

/**
 * `PRAGMA quick_check` at start: a database with damaged pages otherwise starts and then fails
 * request by request ("database disk image is malformed"). It reads every page once (O(size)),
 * without the slower index cross-checks of `integrity_check`.
 */
function checkIntegrity(db: DatabaseSync, file: string): void {
  let rows: SqliteRow[];
  try {
    rows = db.prepare('PRAGMA quick_check').all() as SqliteRow[];
  } catch (error) {
    throw new CutoverError('DATABASE_CORRUPT', `the database ${file} cannot be read: ${(error as Error).message}; restore it from a backup`, { cause: error });
  }
  const found = rows.map((r) => String(Object.values(r)[0]));
  if (found.length === 1 && found[0] === 'ok') return;
  throw new CutoverError(
    'DATABASE_CORRUPT',
    `the database ${file} is damaged (PRAGMA quick_check: ${found.slice(0, 5).join('; ')}${found.length > 5 ? '; …' : ''}); restore it from a backup`,
    { details: { file, problems: found.slice(0, 20) } },
  );
}

/**
 * Every method maps a full disk (`SQLITE_FULL`, `ENOSPC`) to `DISK_FULL` naming the database's
 * directory. SQLite rolls the failed statement or transaction back, so nothing was changed.
 */
function mapDiskFull(dir: string, store: Store): Store {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[key] = (...args: unknown[]) => {
      let result: unknown;
      try {
        result = fn(...args);
      } catch (error) {
        throw diskFullError(error, dir) ?? error;
      }
      if (result instanceof Promise) {
        return result.catch((error: unknown) => {
          throw diskFullError(error, dir) ?? error;
        });
      }
      return result;
    };
  }
  return wrapped as unknown as Store;
}
