import type { DatabaseSync } from 'node:sqlite';

/**
 * Runs `fn` in a write transaction. BEGIN IMMEDIATE takes SQLite's write lock up front, so a
 * read-then-write inside (the audit head, a channel pointer) cannot race another connection; and
 * since node:sqlite is synchronous, no other call of this process can run in between either.
 * `fn` must be synchronous and must not open a transaction itself.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
