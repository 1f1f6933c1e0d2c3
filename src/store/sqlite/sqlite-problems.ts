import type { DatabaseSync } from 'node:sqlite';
import type { ProblemMethods } from '../method-groups.ts';
import { problemFromSqlite } from './sqlite-rows.ts';
import type { SqliteRow } from './sqlite-rows.ts';

/** Problems reported against releases, in SQLite. */
export function createSqliteProblems(db: DatabaseSync): ProblemMethods {
  const q = {
    insert: db.prepare(
      `INSERT INTO problems (app, version, title, details, status, source, reported_by, reported_at)
       VALUES (?, ?, ?, ?, 'open', ?, ?, ?) RETURNING *`,
    ),
    get: db.prepare('SELECT * FROM problems WHERE id = ?'),
    // The status check in the WHERE makes resolving atomic: of two resolvers, one gets the row.
    resolve: db.prepare(
      `UPDATE problems SET status = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ?
        WHERE id = ? AND status = 'open' RETURNING *`,
    ),
    list: db.prepare(
      `SELECT * FROM problems
        WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR version = ?2) AND (?3 IS NULL OR status = ?3)
        ORDER BY id DESC`,
    ),
  };

  return {
    async insertProblem(p) {
      return problemFromSqlite(
        q.insert.get(p.app, p.version, p.title, p.details, p.source, p.reportedBy, p.reportedAt) as SqliteRow,
      );
    },
    async getProblem(id) {
      const row = q.get.get(id) as SqliteRow | undefined;
      return row && problemFromSqlite(row);
    },
    async resolveProblem(id, by, at, resolution) {
      const row = q.resolve.get(by, at, resolution, id) as SqliteRow | undefined;
      return row && problemFromSqlite(row);
    },
    async listProblems(filter = {}) {
      return (q.list.all(filter.app ?? null, filter.version ?? null, filter.status ?? null) as SqliteRow[]).map(
        problemFromSqlite,
      );
    },
  };
}
