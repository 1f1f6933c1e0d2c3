import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { DeploymentRecord } from '../types.ts';
import type { DeploymentMethods } from '../method-groups.ts';

/** Equality filters of listDeployments and their columns (`actor` is generated from the body). */
const EQUALS: ['instance' | 'status' | 'actor', string][] = [
  ['instance', 'instance'],
  ['status', 'status'],
  ['actor', 'actor'],
];

/** Deployments in SQLite: the record as a JSON body, with the columns lists filter on beside it. */
export function createSqliteDeployments(db: DatabaseSync): DeploymentMethods {
  const q = {
    insert: db.prepare(
      'INSERT INTO deployments (id, instance, status, body, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    update: db.prepare('UPDATE deployments SET status = ?, body = ? WHERE id = ?'),
    get: db.prepare('SELECT body FROM deployments WHERE id = ?'),
  };
  // The WHERE names only the filters given, so SQLite can pick the index that fits (instance, actor
  // or created_at); the few shapes that occur are prepared once.
  const listStatements = new Map<string, StatementSync>();
  const parse = (r: { body: string }): DeploymentRecord => JSON.parse(r.body) as DeploymentRecord;

  return {
    async insertDeployment(d) {
      q.insert.run(d.id, d.instance, d.status, JSON.stringify(d), d.createdAt);
    },
    async updateDeployment(d) {
      q.update.run(d.status, JSON.stringify(d), d.id);
    },
    async getDeployment(id) {
      const row = q.get.get(id) as { body: string } | undefined;
      return row && parse(row);
    },
    async listDeployments(filter = {}) {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      for (const [key, column] of EQUALS) {
        const value = filter[key];
        if (value === undefined) continue;
        where.push(`${column} = ?`);
        params.push(value);
      }
      if (filter.since !== undefined) {
        where.push('created_at >= ?');
        params.push(filter.since);
      }
      // LIMIT -1: no limit.
      params.push(filter.limit === undefined ? -1 : Math.max(0, filter.limit));
      const sql = `SELECT body FROM deployments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, seq DESC LIMIT ?`;
      let stmt = listStatements.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        listStatements.set(sql, stmt);
      }
      return (stmt.all(...params) as { body: string }[]).map(parse);
    },
  };
}
