import { settingJson } from '../fleet-records.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import type { PgDb } from './postgres-db.ts';
import { toHalt, toHold } from './postgres-rows.ts';
import type { FleetMethods } from '../method-groups.ts';

/**
 * Settings, holds and halts for the PostgreSQL store. Each write runs in one transaction with its
 * audit entry, appended last (see postgres-audit.ts on lock order); a write that finds nothing to do
 * returns before appending, and its transaction commits nothing.
 */
export function createPostgresFleet({ query, transaction }: PgDb): FleetMethods {
  return {
    async getSetting(key) {
      const res = await query<{ value: unknown }>('SELECT value FROM settings WHERE key = $1', [key]);
      return res.rows[0] === undefined ? undefined : res.rows[0].value;
    },
    async putSetting(key, value, audit) {
      const text = settingJson(key, value);
      await transaction(async (client) => {
        await client.query(
          'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [key, text],
        );
        await appendAuditEntries(client, [audit]);
      });
    },

    async putHold(h, audit) {
      await transaction(async (client) => {
        await client.query(
          `INSERT INTO holds (instance, owner, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (instance) DO UPDATE SET owner = excluded.owner, reason = excluded.reason,
             created_at = excluded.created_at, expires_at = excluded.expires_at`,
          [h.instance, h.owner, h.reason, h.createdAt, h.until],
        );
        await appendAuditEntries(client, [audit]);
      });
    },
    async deleteHold(instance, audit) {
      return transaction(async (client) => {
        const res = await client.query('DELETE FROM holds WHERE instance = $1', [instance]);
        if (res.rowCount !== 1) return false;
        await appendAuditEntries(client, [audit]);
        return true;
      });
    },
    async listHolds() {
      return (await query('SELECT * FROM holds ORDER BY instance')).rows.map(toHold);
    },

    async insertHalt(h, audit) {
      return transaction(async (client) => {
        // The conflict target is the partial unique index halts_active. A concurrent insert of the
        // same version waits here for the first to commit (or roll back), then conflicts: of any
        // number of racing inserts on any replicas, exactly one gets a row.
        const res = await client.query(
          `INSERT INTO halts (app, version, reason, problem_id, halted_at, halted_by) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (app, version) WHERE lifted_at IS NULL DO NOTHING RETURNING *`,
          [h.app, h.version, h.reason, h.problemId, h.haltedAt, h.haltedBy],
        );
        const row = res.rows[0];
        if (!row) return undefined;
        await appendAuditEntries(client, [audit]);
        return toHalt(row);
      });
    },
    async liftHalt(app, version, lift, audit) {
      return transaction(async (client) => {
        // A concurrent lift waits for the row lock, then re-checks `lifted_at IS NULL` on the row's
        // latest version and matches nothing: one lift, one audit entry.
        const res = await client.query(
          `UPDATE halts SET lifted_by = $3, lifted_at = $4, lift_reason = $5
            WHERE app = $1 AND version = $2 AND lifted_at IS NULL RETURNING *`,
          [app, version, lift.by, lift.at, lift.reason],
        );
        const row = res.rows[0];
        if (!row) return undefined;
        await appendAuditEntries(client, [audit]);
        return toHalt(row);
      });
    },
    async listHalts(filter = {}) {
      const res = await query(
        `SELECT * FROM halts
          WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR version = $2) AND (NOT $3::boolean OR lifted_at IS NULL)
          ORDER BY id DESC`,
        [filter.app ?? null, filter.version ?? null, filter.active === true],
      );
      return res.rows.map(toHalt);
    },
  };
}
