/**
 * A WHERE clause naming only the filters given (`$1 IS NULL OR column = $1` cannot use an index),
 * with numbered parameters. `add('instance = ?', v)` appends one condition; `limit(n)` appends the
 * LIMIT value last and returns its placeholder.
 */
export function createWhere() {
  const conditions: string[] = [];
  const values: unknown[] = [];
  return {
    values,
    add(sql: string, value: unknown): void {
      values.push(value);
      conditions.push(sql.replace('?', `$${values.length}`));
    },
    /** `WHERE a AND b`, or '' with no condition. */
    clause(): string {
      return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    },
    limit(n: number | null): string {
      values.push(n);
      return `$${values.length}`;
    },
  };
}
