import type { Store } from '../store.ts';
import { migrate } from './migrate.ts';
import { createPostgresAudit } from './postgres-audit.ts';
import { createPostgresChannels } from './postgres-channels.ts';
import { createPgDb, json } from './postgres-db.ts';
import { createPostgresDeployments } from './postgres-deployments.ts';
import { createPostgresFleet } from './postgres-fleet.ts';
import { createPostgresMachines } from './postgres-machines.ts';
import { createPostgresAppConfig } from './postgres-app-config.ts';
import { createPostgresEdgeCertificates } from './postgres-edge-certs.ts';
import { createPostgresInstances } from './postgres-instances.ts';
import { createPostgresLeases } from './postgres-leases.ts';
import { createPostgresProblems } from './postgres-problems.ts';
import { toRelease, toToken } from './postgres-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Options of `createPostgresStore`. */
export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Where a malformed row skipped in a list is reported. */
  log?: RowLog;
}

/**
 * The shared store for several `cutover server` replicas: PostgreSQL through a `pg.Pool`. Migrates
 * the database on open (replicas starting together take turns, see `migrate.ts`). Multi-statement
 * changes run in READ COMMITTED transactions; check-and-set operations are single conditional
 * statements, so they stay atomic across replicas without table locks.
 */
export async function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const db = createPgDb(url, options.poolSize ?? 10);
  const { pool, query } = db;
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }

  return {
    async insertRelease(r) {
      const res = await query(
        `INSERT INTO releases (app, version, digest, spec, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [r.app, r.version, r.digest, json(r.spec), r.createdAt, r.createdBy],
      );
      return res.rowCount === 1;
    },
    async getRelease(app, version) {
      const res = await query('SELECT * FROM releases WHERE app = $1 AND version = $2', [app, version]);
      return res.rows[0] && toRelease(res.rows[0]);
    },
    async listReleases(app) {
      const res =
        app === undefined
          ? await query('SELECT * FROM releases ORDER BY created_at DESC, seq DESC')
          : await query('SELECT * FROM releases WHERE app = $1 ORDER BY created_at DESC, seq DESC', [app]);
      return res.rows.map(toRelease);
    },
    async listApps() {
      const res = await query<{ app: string }>('SELECT DISTINCT app FROM releases ORDER BY app');
      return res.rows.map((r) => r.app);
    },

    ...createPostgresInstances(db, options.log),

    ...createPostgresDeployments(db, options.log),

    ...createPostgresLeases(db),

    async insertToken(t) {
      // No conflict target: a taken name and a taken hash are both refused.
      const res = await query(
        'INSERT INTO tokens (name, hash, role, created_at, created_by, channels) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
        [t.name, t.hash, t.role, t.createdAt, t.createdBy, t.channels ? JSON.stringify(t.channels) : null],
      );
      return res.rowCount === 1;
    },
    async findTokenByHash(hash) {
      const res = await query('SELECT * FROM tokens WHERE hash = $1', [hash]);
      return res.rows[0] && toToken(res.rows[0]);
    },
    async listTokens() {
      return (await query('SELECT * FROM tokens ORDER BY name')).rows.map(toToken);
    },
    async deleteToken(name) {
      return (await query('DELETE FROM tokens WHERE name = $1', [name])).rowCount === 1;
    },
    async countTokens() {
      return (await query<{ n: number }>('SELECT count(*) AS n FROM tokens')).rows[0]!.n;
    },

    ...createPostgresAudit(db, options.log),

    ...createPostgresChannels(db, options.log),

    ...createPostgresProblems(db),

    ...createPostgresFleet(db),
    ...createPostgresMachines(db),
    ...createPostgresAppConfig(db),
    ...createPostgresEdgeCertificates(db),

    async close() {
      await pool.end();
    },
  };
}
