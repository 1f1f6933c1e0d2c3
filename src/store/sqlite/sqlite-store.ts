import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Store } from '../store.ts';
import type {
  AuditEntry,
  DeploymentRecord,
  InstanceRecord,
  LockRecord,
  LockResult,
  ReleaseRecord,
  Role,
} from '../types.ts';
import { migrate } from './migrate.ts';

type Row = Record<string, unknown>;

/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode so readers never block
 * the writer. node:sqlite is synchronous; each call is a short indexed statement on a local file,
 * so it is run inline rather than on a worker thread.
 */
export function createSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last commits.
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
  migrate(db);

  const q = {
    insertRelease: db.prepare(
      'INSERT INTO releases (app, version, digest, spec, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    getRelease: db.prepare('SELECT * FROM releases WHERE app = ? AND version = ?'),
    listReleases: db.prepare('SELECT * FROM releases ORDER BY created_at DESC, seq DESC'),
    listReleasesOfApp: db.prepare('SELECT * FROM releases WHERE app = ? ORDER BY created_at DESC, seq DESC'),
    listApps: db.prepare('SELECT DISTINCT app FROM releases ORDER BY app'),
    insertInstance: db.prepare(
      'INSERT INTO instances (name, app, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    getInstance: db.prepare('SELECT body FROM instances WHERE name = ?'),
    listInstances: db.prepare('SELECT body FROM instances ORDER BY name'),
    updateInstance: db.prepare('UPDATE instances SET body = ?, updated_at = ? WHERE name = ?'),
    insertDeployment: db.prepare(
      'INSERT INTO deployments (id, instance, status, body, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    updateDeployment: db.prepare('UPDATE deployments SET status = ?, body = ? WHERE id = ?'),
    getDeployment: db.prepare('SELECT body FROM deployments WHERE id = ?'),
    listDeployments: db.prepare(
      `SELECT body FROM deployments
        WHERE (?1 IS NULL OR instance = ?1) AND (?2 IS NULL OR status = ?2)
        ORDER BY created_at DESC, seq DESC LIMIT ?3`,
    ),
    // One statement takes a free or expired lease, or keeps it for the same owner; the WHERE on the
    // conflict branch makes the check-and-set atomic without an explicit transaction.
    acquireLock: db.prepare(
      `INSERT INTO locks (instance, owner, deployment_id, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (instance) DO UPDATE SET owner = excluded.owner, deployment_id = excluded.deployment_id,
         acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
       WHERE locks.expires_at <= ?6 OR locks.owner = excluded.owner`,
    ),
    getLock: db.prepare('SELECT * FROM locks WHERE instance = ?'),
    releaseLock: db.prepare('DELETE FROM locks WHERE instance = ? AND owner = ?'),
    insertToken: db.prepare(
      'INSERT INTO tokens (hash, name, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    findToken: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
    countTokens: db.prepare('SELECT count(*) AS n FROM tokens'),
    appendAudit: db.prepare(
      'INSERT INTO audit (at, actor, action, subject, reason, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
    ),
    listAudit: db.prepare(
      'SELECT * FROM audit WHERE (?1 IS NULL OR subject = ?1) ORDER BY id DESC LIMIT ?2',
    ),
  };

  const toRelease = (r: Row): ReleaseRecord => ({
    app: r.app as string,
    version: r.version as string,
    digest: r.digest as string,
    spec: JSON.parse(r.spec as string) as Record<string, unknown>,
    createdAt: Number(r.created_at),
    createdBy: r.created_by as string,
  });
  const toLock = (r: Row): LockRecord => ({
    instance: r.instance as string,
    owner: r.owner as string,
    deploymentId: r.deployment_id as string,
    acquiredAt: Number(r.acquired_at),
    expiresAt: Number(r.expires_at),
  });
  const body = <T>(r: Row | undefined): T | undefined => (r ? (JSON.parse(r.body as string) as T) : undefined);
  const MAX_LIMIT = 1_000_000;

  return {
    async insertRelease(r) {
      const res = q.insertRelease.run(r.app, r.version, r.digest, JSON.stringify(r.spec), r.createdAt, r.createdBy);
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
    async insertInstance(i) {
      const res = q.insertInstance.run(i.name, i.app, JSON.stringify(i), i.createdAt, i.updatedAt);
      return Number(res.changes) === 1;
    },
    async getInstance(name) {
      return body<InstanceRecord>(q.getInstance.get(name) as Row | undefined);
    },
    async listInstances() {
      return (q.listInstances.all() as Row[]).map((r) => body<InstanceRecord>(r)!);
    },
    async updateInstance(i) {
      q.updateInstance.run(JSON.stringify(i), i.updatedAt, i.name);
    },
    async insertDeployment(d) {
      q.insertDeployment.run(d.id, d.instance, d.status, JSON.stringify(d), d.createdAt);
    },
    async updateDeployment(d) {
      q.updateDeployment.run(d.status, JSON.stringify(d), d.id);
    },
    async getDeployment(id) {
      return body<DeploymentRecord>(q.getDeployment.get(id) as Row | undefined);
    },
    async listDeployments(filter = {}) {
      const rows = q.listDeployments.all(
        filter.instance ?? null,
        filter.status ?? null,
        filter.limit ?? MAX_LIMIT,
      ) as Row[];
      return rows.map((r) => body<DeploymentRecord>(r)!);
    },
    async acquireLock(lock, now): Promise<LockResult> {
      const res = q.acquireLock.run(lock.instance, lock.owner, lock.deploymentId, lock.acquiredAt, lock.expiresAt, now);
      if (Number(res.changes) === 1) return { ok: true, lock: { ...lock } };
      return { ok: false, holder: toLock(q.getLock.get(lock.instance) as Row) };
    },
    async releaseLock(instance, owner) {
      return Number(q.releaseLock.run(instance, owner).changes) === 1;
    },
    async getLock(instance) {
      const row = q.getLock.get(instance) as Row | undefined;
      return row && toLock(row);
    },
    async insertToken(t) {
      return Number(q.insertToken.run(t.hash, t.name, t.role, t.createdAt).changes) === 1;
    },
    async findTokenByHash(hash) {
      const r = q.findToken.get(hash) as Row | undefined;
      return (
        r && { hash: r.hash as string, name: r.name as string, role: r.role as Role, createdAt: Number(r.created_at) }
      );
    },
    async countTokens() {
      return Number((q.countTokens.get() as Row).n);
    },
    async appendAudit(e) {
      const row = q.appendAudit.get(e.at, e.actor, e.action, e.subject, e.reason ?? null, JSON.stringify(e.details)) as Row;
      return { ...e, id: Number(row.id) };
    },
    async listAudit(filter = {}) {
      const rows = q.listAudit.all(filter.subject ?? null, filter.limit ?? MAX_LIMIT) as Row[];
      return rows.map(
        (r): AuditEntry => ({
          id: Number(r.id),
          at: Number(r.at),
          actor: r.actor as string,
          action: r.action as string,
          subject: r.subject as string,
          ...(r.reason === null ? {} : { reason: r.reason as string }),
          details: JSON.parse(r.details as string) as Record<string, unknown>,
        }),
      );
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
