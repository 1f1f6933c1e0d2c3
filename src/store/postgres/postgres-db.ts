import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { Row } from './postgres-rows.ts';

const INT8_OID = 20;

/**
 * Times are BIGINT milliseconds and ids BIGINT; pg hands int8 over as a string by default because it
 * may exceed 2^53. Every int8 this schema holds is far below that, so it is parsed to a number.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The pool and the two ways the store talks to it. */
export interface PgDb {
  pool: pg.Pool;
  /** One statement on any pooled connection (autocommit). */
  query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** Runs `fn` in a READ COMMITTED transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T>;
}

export function createPgDb(url: string, poolSize: number): PgDb {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types });
  // An idle connection the server drops (restart, failover) must not crash the process: the pool
  // discards it and the next query opens a new one.
  pool.on('error', () => {});
  return {
    pool,
    query: (text, values) => pool.query(text, values),
    async transaction(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        // Explicit, whatever the server's default: the audit chain relies on each statement
        // seeing every commit made before it (see postgres-audit.ts).
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}

export const json = (value: unknown): string => JSON.stringify(value);

/** `JSON.stringify` for a nullable `json` column: null and undefined become SQL NULL. */
export const jsonOrNull = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

/** A LIMIT parameter: none when absent, never negative (PostgreSQL rejects a negative LIMIT). */
export const limitOf = (limit: number | undefined): number | null =>
  limit === undefined || limit === Infinity ? null : Math.max(0, Math.floor(limit));
