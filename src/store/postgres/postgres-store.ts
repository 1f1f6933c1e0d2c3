import type { Store } from '../store.ts';
import { migrate } from './migrate.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { createPostgresChannels } from './postgres-channels.ts';
import { createPgDb, json, limitOf } from './postgres-db.ts';
import { createPostgresFleet } from './postgres-fleet.ts';
import { createPostgresInstances } from './postgres-instances.ts';
import { createPostgresLeases } from './postgres-leases.ts';
import { toAudit, toDeployment, toProblem, toRelease, toToken } from './postgres-rows.ts';
import { createWhere } from './postgres-where.ts';
import { checkAuditEntry, checkDeployment, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Options of `createPostgresStore`. */
export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Where a malformed row skipped in a list is reported. */
  log?: RowLog;
}

/**
 * The shared store for several `cutover server` replicas: PostgreSQL through a `pg.Pool`. Migrates
 * the database on open (replicas starting together take turns, see `migrate.ts`). Multi-statement
 * changes run in READ COMMITTED transactions; check-and-set operations are single conditional
 * statements, so they stay atomic across replicas without table locks.
 */
export async function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const db = createPgDb(url, options.poolSize ?? 10);
  const { pool, query, transaction } = db;
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }

  return {
    async insertRelease(r) {
      const res = await query(
        `INSERT INTO releases (app, version, digest, spec, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [r.app, r.version, r.digest, json(r.spec), r.createdAt, r.createdBy],
      );
      return res.rowCount === 1;
    },
    async getRelease(app, version) {
      const res = await query('SELECT * FROM releases WHERE app = $1 AND version = $2', [app, version]);
      return res.rows[0] && toRelease(res.rows[0]);
    },
    async listReleases(app) {
      const res =
        app === undefined
          ? await query('SELECT * FROM releases ORDER BY created_at DESC, seq DESC')
          : await query('SELECT * FROM releases WHERE app = $1 ORDER BY created_at DESC, seq DESC', [app]);
      return res.rows.map(toRelease);
    },
    async listApps() {
      const res = await query<{ app: string }>('SELECT DISTINCT app FROM releases ORDER BY app');
      return res.rows.map((r) => r.app);
    },

    ...createPostgresInstances(db, options.log),

    async insertDeployment(d) {
      await query('INSERT INTO deployments (id, instance, status, created_at, body) VALUES ($1, $2, $3, $4, $5)', [
        d.id,
        d.instance,
        d.status,
        d.createdAt,
        json(d),
      ]);
    },
    async updateDeployment(d) {
      await query('UPDATE deployments SET instance = $2, status = $3, created_at = $4, body = $5 WHERE id = $1', [
        d.id,
        d.instance,
        d.status,
        d.createdAt,
        json(d),
      ]);
    },
    async getDeployment(id) {
      const res = await query('SELECT body FROM deployments WHERE id = $1', [id]);
      return res.rows[0] && toDeployment(res.rows[0]);
    },
    async listDeployments(filter = {}) {
      // The WHERE names only the filters given, so each query can use the index that fits
      // (instance, actor, running, created_at).
      const w = createWhere();
      if (filter.instance !== undefined) w.add('instance = ?', filter.instance);
      if (filter.status !== undefined) w.add('status = ?', filter.status);
      if (filter.actor !== undefined) w.add('actor = ?', filter.actor);
      if (filter.since !== undefined) w.add('created_at >= ?', filter.since);
      if (filter.before !== undefined) w.add('created_at < ?', filter.before);
      const limit = w.limit(limitOf(filter.limit));
      const res = await query(`SELECT id, body FROM deployments ${w.clause()} ORDER BY created_at DESC, seq DESC LIMIT ${limit}`, w.values);
      return decodeRows(res.rows, (r) => checkDeployment(toDeployment(r)), 'deployments', (r) => r.id, options.log);
    },

    ...createPostgresLeases(db),

    async insertToken(t) {
      // No conflict target: a taken name and a taken hash are both refused.
      const res = await query(
        'INSERT INTO tokens (name, hash, role, created_at, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [t.name, t.hash, t.role, t.createdAt, t.createdBy],
      );
      return res.rowCount === 1;
    },
    async findTokenByHash(hash) {
      const res = await query('SELECT * FROM tokens WHERE hash = $1', [hash]);
      return res.rows[0] && toToken(res.rows[0]);
    },
    async listTokens() {
      return (await query('SELECT * FROM tokens ORDER BY name')).rows.map(toToken);
    },
    async deleteToken(name) {
      return (await query('DELETE FROM tokens WHERE name = $1', [name])).rowCount === 1;
    },
    async countTokens() {
      return (await query<{ n: number }>('SELECT count(*) AS n FROM tokens')).rows[0]!.n;
    },

    async appendAudit(entry) {
      return (await transaction((client) => appendAuditEntries(client, [entry])))[0]!;
    },
    async listAudit(filter = {}) {
      const w = createWhere();
      if (filter.instance !== undefined) w.add('instance = ?', filter.instance);
      if (filter.app !== undefined) w.add('app = ?', filter.app);
      if (filter.version !== undefined) w.add('version = ?', filter.version);
      if (filter.actor !== undefined) w.add('actor = ?', filter.actor);
      if (filter.subject !== undefined) w.add('subject = ?', filter.subject);
      if (filter.action !== undefined) w.add('action = ?', filter.action);
      if (filter.since !== undefined) w.add('at >= ?', filter.since);
      if (filter.until !== undefined) w.add('at < ?', filter.until);
      if (filter.before !== undefined) w.add('id < ?', filter.before);
      const limit = w.limit(limitOf(filter.limit));
      const res = await query(`SELECT * FROM audit ${w.clause()} ORDER BY id DESC LIMIT ${limit}`, w.values);
      return decodeRows(res.rows, (r) => checkAuditEntry(toAudit(r)), 'audit', (r) => r.id, options.log);
    },
    async readAuditChain(after, limit) {
      const res = await query('SELECT * FROM audit WHERE id > $1 ORDER BY id LIMIT $2', [after, limitOf(limit)]);
      return res.rows.map(toAudit);
    },
    async auditHead() {
      const res = await query<{ id: number; hash: string }>('SELECT id, hash FROM audit_head');
      return res.rows[0] && { id: res.rows[0].id, hash: res.rows[0].hash };
    },

    ...createPostgresChannels(db, options.log),

    async insertProblem(p) {
      const res = await query(
        `INSERT INTO problems (app, version, title, details, status, source, reported_by, reported_at)
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING *`,
        [p.app, p.version, p.title, p.details, p.source, p.reportedBy, p.reportedAt],
      );
      return toProblem(res.rows[0]!);
    },
    async getProblem(id) {
      if (!Number.isSafeInteger(id)) return undefined;
      const res = await query('SELECT * FROM problems WHERE id = $1', [id]);
      return res.rows[0] && toProblem(res.rows[0]);
    },
    async resolveProblem(id, by, at, resolution) {
      if (!Number.isSafeInteger(id)) return undefined;
      const res = await query(
        `UPDATE problems SET status = 'resolved', resolved_by = $2, resolved_at = $3, resolution = $4
          WHERE id = $1 AND status = 'open' RETURNING *`,
        [id, by, at, resolution],
      );
      return res.rows[0] && toProblem(res.rows[0]);
    },
    async listProblems(filter = {}) {
      const res = await query(
        `SELECT * FROM problems
          WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR version = $2) AND ($3::text IS NULL OR status = $3)
          ORDER BY id DESC`,
        [filter.app ?? null, filter.version ?? null, filter.status ?? null],
      );
      return res.rows.map(toProblem);
    },

    ...createPostgresFleet(db),

    async close() {
      await pool.end();
    },
  };
}
