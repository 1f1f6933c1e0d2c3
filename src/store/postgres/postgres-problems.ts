import type { ProblemMethods } from '../method-groups.ts';
import type { PgDb } from './postgres-db.ts';
import { toProblem } from './postgres-rows.ts';

/** Problems for the PostgreSQL store. */
export function createPostgresProblems({ query }: PgDb): ProblemMethods {
  return {
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
  };
}
