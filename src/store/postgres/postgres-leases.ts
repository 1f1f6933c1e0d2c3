import type { PoolClient } from 'pg';
import { canTakeLease, displacedDeployment } from '../lease-rules.ts';
import { LOCK_COLUMNS, lockValues, toLock } from '../lock-row.ts';
import type { AcquireOptions, LockRecord, LockResult } from '../types.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import type { PgDb } from './postgres-db.ts';
import { json } from './postgres-db.ts';
import { toDeployment } from './postgres-rows.ts';
import type { LeaseMethods } from '../method-groups.ts';

/**
 * Instance leases in PostgreSQL. Taking a held lease locks its row (`FOR UPDATE`), applies the one
 * rule of `lease-rules.ts`, and settles a superseded deployment with its audit entry (appended last,
 * see postgres-audit.ts on lock order), all in one transaction: two replicas never both take it.
 */
export function createPostgresLeases({ query, transaction }: PgDb): LeaseMethods {
  async function take(client: PoolClient, lock: LockRecord, now: number, options: AcquireOptions): Promise<LockResult | undefined> {
    const inserted = await client.query(
      `INSERT INTO locks (${LOCK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (instance) DO NOTHING RETURNING instance`,
      lockValues(lock),
    );
    if (inserted.rowCount === 1) return { ok: true, lock: { ...lock } };
    const row = (await client.query('SELECT * FROM locks WHERE instance = $1 FOR UPDATE', [lock.instance])).rows[0];
    if (!row) return undefined; // released between the two statements: try again
    const held = toLock(row);
    if (!canTakeLease(held, lock, now, options.takeFrom)) return { ok: false, holder: held };
    await client.query(
      `UPDATE locks SET owner = $2, deployment_id = $3, acquired_at = $4, expires_at = $5, server_id = $6, replica = $7,
         holder_pid = $8, heartbeat_at = $9 WHERE instance = $1`,
      lockValues(lock),
    );
    const displaced = displacedDeployment(held, lock);
    if (displaced === undefined || !options.supersede) return { ok: true, lock: { ...lock } };
    const found = (await client.query('SELECT body FROM deployments WHERE id = $1 FOR UPDATE', [displaced])).rows[0];
    const running = found && toDeployment(found);
    if (running?.status !== 'running') return { ok: true, lock: { ...lock } };
    const settled = options.supersede(running, now);
    await client.query('UPDATE deployments SET status = $2, body = $3 WHERE id = $1', [
      settled.deployment.id,
      settled.deployment.status,
      json(settled.deployment),
    ]);
    await appendAuditEntries(client, [settled.audit]);
    return { ok: true, lock: { ...lock }, superseded: JSON.parse(JSON.stringify(settled.deployment)) as typeof running };
  }

  return {
    async acquireLock(lock: LockRecord, now: number, options: AcquireOptions = {}): Promise<LockResult> {
      for (;;) {
        const result = await transaction((client) => take(client, lock, now, options));
        if (result) return result;
      }
    },
    async releaseLock(instance: string, owner: string): Promise<boolean> {
      const res = await query('DELETE FROM locks WHERE instance = $1 AND owner = $2', [instance, owner]);
      return res.rowCount === 1;
    },
    async getLock(instance: string): Promise<LockRecord | undefined> {
      const res = await query('SELECT * FROM locks WHERE instance = $1', [instance]);
      return res.rows[0] && toLock(res.rows[0]);
    },
  };
}
