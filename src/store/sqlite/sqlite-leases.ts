import type { DatabaseSync } from 'node:sqlite';
import { canTakeLease, displacedDeployment } from '../lease-rules.ts';
import { LOCK_COLUMNS, lockValues, toLock } from '../lock-row.ts';
import type { AcquireOptions, DeploymentRecord, LockRecord, LockResult } from '../types.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';
import type { LeaseMethods } from '../method-groups.ts';

/**
 * Instance leases in SQLite. Taking one reads the row and writes it in one write transaction
 * (BEGIN IMMEDIATE), so the check-and-set is atomic across processes sharing the file, and a
 * superseded deployment is settled in that same transaction.
 */
export function createSqliteLeases(db: DatabaseSync, audit: SqliteAuditLog): LeaseMethods {
  const q = {
    get: db.prepare('SELECT * FROM locks WHERE instance = ?'),
    put: db.prepare(
      `INSERT INTO locks (${LOCK_COLUMNS})
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
       ON CONFLICT (instance) DO UPDATE SET owner = ?2, deployment_id = ?3, acquired_at = ?4, expires_at = ?5,
         server_id = ?6, replica = ?7, holder_pid = ?8, heartbeat_at = ?9`,
    ),
    release: db.prepare('DELETE FROM locks WHERE instance = ? AND owner = ?'),
    getDeployment: db.prepare('SELECT body FROM deployments WHERE id = ?'),
    updateDeployment: db.prepare('UPDATE deployments SET status = ?, body = ? WHERE id = ?'),
  };

  return {
    async acquireLock(lock: LockRecord, now: number, options: AcquireOptions = {}): Promise<LockResult> {
      return transaction(db, (): LockResult => {
        const row = q.get.get(lock.instance) as SqliteRow | undefined;
        const held = row && toLock(row);
        if (!canTakeLease(held, lock, now, options.takeFrom)) return { ok: false, holder: held! };
        q.put.run(...lockValues(lock));
        const displaced = displacedDeployment(held, lock);
        const body = displaced === undefined ? undefined : (q.getDeployment.get(displaced) as { body: string } | undefined);
        const running = body && (JSON.parse(body.body) as DeploymentRecord);
        if (running?.status !== 'running' || !options.supersede) return { ok: true, lock: { ...lock } };
        const settled = options.supersede(running, now);
        q.updateDeployment.run(settled.deployment.status, JSON.stringify(settled.deployment), settled.deployment.id);
        audit.appendInTransaction(settled.audit);
        return { ok: true, lock: { ...lock }, superseded: JSON.parse(JSON.stringify(settled.deployment)) as DeploymentRecord };
      });
    },
    async releaseLock(instance: string, owner: string): Promise<boolean> {
      return Number(q.release.run(instance, owner).changes) === 1;
    },
    async getLock(instance: string): Promise<LockRecord | undefined> {
      const row = q.get.get(instance) as SqliteRow | undefined;
      return row && toLock(row);
    },
  };
}
