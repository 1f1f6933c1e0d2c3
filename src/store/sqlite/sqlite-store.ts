import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Store } from '../store.ts';
import type { ReleaseRecord, Role, TokenRecord } from '../types.ts';
import { migrate } from './migrate.ts';
import { createSqliteAuditLog } from './sqlite-audit-log.ts';
import { createSqliteChannels } from './sqlite-channels.ts';
import { createSqliteDeployments } from './sqlite-deployments.ts';
import { createSqliteFleet } from './sqlite-fleet.ts';
import { createSqliteInstances } from './sqlite-instances.ts';
import { createSqliteLeases } from './sqlite-leases.ts';
import { createSqliteProblems } from './sqlite-problems.ts';

type Row = Record<string, unknown>;

/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode so readers never block
 * the writer. node:sqlite is synchronous; each call is a short indexed statement on a local file,
 * so it is run inline rather than on a worker thread. Being synchronous also makes every method
 * atomic within the process: no other call runs between a method's statements.
 */
export function createSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last commits.
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
  try {
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
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
      'INSERT INTO tokens (hash, name, role, created_at, created_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    findToken: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
    listTokens: db.prepare('SELECT * FROM tokens ORDER BY name'),
    deleteToken: db.prepare('DELETE FROM tokens WHERE name = ?'),
    countTokens: db.prepare('SELECT count(*) AS n FROM tokens'),
  };

  const toRelease = (r: Row): ReleaseRecord => ({
    app: r.app as string,
    version: r.version as string,
    digest: r.digest as string,
    spec: JSON.parse(r.spec as string) as Record<string, unknown>,
    createdAt: Number(r.created_at),
    createdBy: r.created_by as string,
  });
  const toToken = (r: Row): TokenRecord => ({
    name: r.name as string,
    hash: r.hash as string,
    role: r.role as Role,
    createdAt: Number(r.created_at),
    createdBy: r.created_by as string,
  });
  const audit = createSqliteAuditLog(db);

  return {
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
      const row = q.getRelease.get(app, version) as Row | undefined;
      return row && toRelease(row);
    },
    async listReleases(app) {
      const rows = (app === undefined ? q.listReleases.all() : q.listReleasesOfApp.all(app)) as Row[];
      return rows.map(toRelease);
    },
    async listApps() {
      return (q.listApps.all() as Row[]).map((r) => r.app as string);
    },
    ...createSqliteInstances(db, audit),
    ...createSqliteDeployments(db),
    ...createSqliteLeases(db, audit),
    async insertToken(t) {
      return Number(q.insertToken.run(t.hash, t.name, t.role, t.createdAt, t.createdBy).changes) === 1;
    },
    async findTokenByHash(hash) {
      const r = q.findToken.get(hash) as Row | undefined;
      return r && toToken(r);
    },
    async listTokens() {
      return (q.listTokens.all() as Row[]).map(toToken);
    },
    async deleteToken(name) {
      return Number(q.deleteToken.run(name).changes) === 1;
    },
    async countTokens() {
      return Number((q.countTokens.get() as Row).n);
    },
    ...audit.methods,
    ...createSqliteChannels(db, audit),
    ...createSqliteProblems(db),
    ...createSqliteFleet(db, audit),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
