import { readdirSync, readFileSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { chainLegacyAudit } from './chain-legacy-audit.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/**
 * Steps SQL cannot do, run right after a migration's SQL in the same transaction, so the step
 * and the schema change land together or not at all, and the step runs exactly once.
 */
const AFTER_SQL: Record<string, (db: DatabaseSync) => void> = {
  // 0002 adds the audit hash columns; old rows need sha256, computed in TypeScript.
  '0002_control_plane.sql': chainLegacyAudit,
};

/**
 * Applies the numbered `migrations/NNNN_name.sql` files that have not run yet, each in its own
 * transaction, recording them in `schema_migrations`. Runs once at start-up, so sync I/O is fine here.
 */
export function migrate(db: DatabaseSync): string[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(
    (db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name),
  );
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const ran: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8');
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process opening the same file may have applied it since we looked.
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE name = ?').get(file)) {
        db.exec('COMMIT');
        continue;
      }
      db.exec(sql);
      AFTER_SQL[file]?.(db);
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(file, Date.now());
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw new Error(`migration ${file} failed`, { cause: error });
    }
    ran.push(file);
  }
  return ran;
}
