import { readdir, readFile } from 'node:fs/promises';
import type { Pool } from 'pg';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/**
 * Key of the transaction-scoped advisory lock the migrator holds. Several servers may start at once
 * against one database; the lock makes them take turns, and each re-reads `schema_migrations` once it
 * holds the lock, so every file runs exactly once. Advisory locks are per database.
 */
const MIGRATION_LOCK = 0x637574_0001; // 'cut' + 1

/**
 * Applies the numbered `migrations/NNNN_name.sql` files that have not run yet, in order, each in its
 * own transaction together with its row in `schema_migrations`. Returns the files it ran.
 */
export async function migrate(pool: Pool): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const ran: string[] = [];
  const client = await pool.connect();
  let broken = false;
  try {
    for (const file of files) {
      const sql = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        // Inside the lock: a concurrent CREATE TABLE IF NOT EXISTS can still fail on the catalog's unique index.
        await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
        const done = await client.query('SELECT 1 FROM schema_migrations WHERE name = $1', [file]);
        if (done.rowCount === 0) {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [file, Date.now()]);
          ran.push(file);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw new Error(`PostgreSQL migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    client.release(broken);
  }
  return ran;
}
