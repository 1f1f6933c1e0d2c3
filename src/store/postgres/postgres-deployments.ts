import { checkDeployment, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';
import type { DeploymentMethods } from '../method-groups.ts';
import { json, limitOf } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import { toDeployment } from './postgres-rows.ts';
import { createWhere } from './postgres-where.ts';

/** Deployments for the PostgreSQL store: the record is kept whole as JSON, beside the columns it is looked up by. */
export function createPostgresDeployments({ query }: PgDb, log?: RowLog): DeploymentMethods {
  return {
    async insertDeployment(d) {
      await query(
        'INSERT INTO deployments (id, instance, status, created_at, body) VALUES ($1, $2, $3, $4, $5)',
        [d.id, d.instance, d.status, d.createdAt, json(d)],
      );
    },
    async updateDeployment(d) {
      await query(
        'UPDATE deployments SET instance = $2, status = $3, created_at = $4, body = $5 WHERE id = $1',
        [d.id, d.instance, d.status, d.createdAt, json(d)],
      );
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
      const res = await query(
        `SELECT id, body FROM deployments ${w.clause()} ORDER BY created_at DESC, seq DESC LIMIT ${limit}`,
        w.values,
      );
      return decodeRows(
        res.rows,
        (r) => checkDeployment(toDeployment(r)),
        'deployments',
        (r) => r.id,
        log,
      );
    },
  };
}
