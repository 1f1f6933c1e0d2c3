import type { DatabaseSync } from 'node:sqlite';
import type { DeploymentRecord } from '../types.ts';
import type { DeploymentMethods } from '../method-groups.ts';
import { createFilteredList } from './filtered-list.ts';
import type { Filter } from './filtered-list.ts';
import { checkDeployment, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Equality filters of listDeployments and their columns (`actor` is generated from the body). */
const EQUALS: ['instance' | 'status' | 'actor', string][] = [
  ['instance', 'instance'],
  ['status', 'status'],
  ['actor', 'actor'],
];

/** Deployments in SQLite: the record as a JSON body, with the columns lists filter on beside it. */
export function createSqliteDeployments(db: DatabaseSync, log?: RowLog): DeploymentMethods {
  const q = {
    insert: db.prepare(
      'INSERT INTO deployments (id, instance, status, body, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    update: db.prepare('UPDATE deployments SET status = ?, body = ? WHERE id = ?'),
    get: db.prepare('SELECT body FROM deployments WHERE id = ?'),
  };
  // The WHERE names only the filters given, so SQLite can pick the index that fits (instance, actor or created_at).
  const list = createFilteredList(db);
  const parse = (r: { body: string }): DeploymentRecord => {
    return checkDeployment(JSON.parse(r.body) as DeploymentRecord);
  };

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
      const filters: Filter[] = [
        ...EQUALS.map(([key, column]): Filter => [`${column} = ?`, filter[key]]),
        ['created_at >= ?', filter.since],
        ['created_at < ?', filter.before],
      ];
      const rows = list('SELECT id, body FROM deployments', filters, 'ORDER BY created_at DESC, seq DESC', filter.limit) as {
        id: string;
        body: string;
      }[];
      return decodeRows(rows, parse, 'deployments', (r) => r.id, log);
    },
  };
}
