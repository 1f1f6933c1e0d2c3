import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';

/** One optional filter: its condition (one `?`) and its value, skipped when undefined. */
export type Filter = readonly [condition: string, value: SQLInputValue | undefined];

/**
 * List queries whose WHERE names only the filters given, so each can use the index that fits;
 * the few shapes that occur are prepared once. `list(select, filters, order, limit)` runs
 * `<select> [WHERE …] <order> LIMIT ?` (limit undefined: none). `prepared` configures each new
 * statement (e.g. `setReturnArrays`).
 */
export function createFilteredList(db: DatabaseSync, prepared: (stmt: StatementSync) => void = () => {}) {
  const statements = new Map<string, StatementSync>();
  return (
    select: string,
    filters: readonly Filter[],
    order: string,
    limit: number | undefined,
  ): unknown[] => {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    for (const [condition, value] of filters) {
      if (value === undefined) continue;
      where.push(condition);
      params.push(value);
    }
    // LIMIT -1: no limit.
    params.push(limit === undefined ? -1 : Math.max(0, limit));
    const sql = `${select} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${order} LIMIT ?`;
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      prepared(stmt);
      statements.set(sql, stmt);
    }
    return stmt.all(...params);
  };
}
