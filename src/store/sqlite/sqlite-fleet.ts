import type { DatabaseSync } from 'node:sqlite';
import { settingJson } from '../fleet-records.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import { haltFromSqlite, holdFromSqlite } from './sqlite-rows.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';
import type { FleetMethods } from '../method-groups.ts';

/**
 * Settings, holds and halts in SQLite. Every write runs in one transaction with its audit entry,
 * and a write that finds nothing to do commits an empty transaction: no entry.
 */
export function createSqliteFleet(db: DatabaseSync, audit: SqliteAuditLog): FleetMethods {
  const q = {
    getSetting: db.prepare('SELECT value FROM settings WHERE key = ?'),
    putSetting: db.prepare(
      'INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2',
    ),
    putHold: db.prepare(
      `INSERT INTO holds (instance, owner, reason, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (instance) DO UPDATE SET owner = ?2, reason = ?3, created_at = ?4, expires_at = ?5`,
    ),
    deleteHold: db.prepare('DELETE FROM holds WHERE instance = ?'),
    listHolds: db.prepare('SELECT * FROM holds ORDER BY instance'),
    // The partial unique index halts_active refuses a second active halt of a version; DO NOTHING
    // turns that into no row returned.
    insertHalt: db.prepare(
      `INSERT INTO halts (app, version, reason, problem_id, halted_at, halted_by) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING RETURNING *`,
    ),
    liftHalt: db.prepare(
      `UPDATE halts SET lifted_by = ?, lifted_at = ?, lift_reason = ?
        WHERE app = ? AND version = ? AND lifted_at IS NULL RETURNING *`,
    ),
    listHalts: db.prepare(
      `SELECT * FROM halts
        WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR version = ?2) AND (?3 = 0 OR lifted_at IS NULL)
        ORDER BY id DESC`,
    ),
  };

  return {
    async getSetting(key) {
      const row = q.getSetting.get(key) as { value: string } | undefined;
      return row === undefined ? undefined : (JSON.parse(row.value) as unknown);
    },
    async putSetting(key, value, entry) {
      const text = settingJson(key, value);
      transaction(db, () => {
        q.putSetting.run(key, text);
        audit.appendInTransaction(entry);
      });
    },

    async putHold(h, entry) {
      transaction(db, () => {
        q.putHold.run(h.instance, h.owner, h.reason, h.createdAt, h.until);
        audit.appendInTransaction(entry);
      });
    },
    async deleteHold(instance, entry) {
      return transaction(db, () => {
        if (Number(q.deleteHold.run(instance).changes) === 0) return false;
        audit.appendInTransaction(entry);
        return true;
      });
    },
    async listHolds() {
      return (q.listHolds.all() as SqliteRow[]).map(holdFromSqlite);
    },

    async insertHalt(h, entry) {
      return transaction(db, () => {
        const row = q.insertHalt.get(h.app, h.version, h.reason, h.problemId, h.haltedAt, h.haltedBy) as
          SqliteRow | undefined;
        if (!row) return undefined;
        audit.appendInTransaction(entry);
        return haltFromSqlite(row);
      });
    },
    async liftHalt(app, version, lift, entry) {
      return transaction(db, () => {
        const row = q.liftHalt.get(lift.by, lift.at, lift.reason, app, version) as SqliteRow | undefined;
        if (!row) return undefined;
        audit.appendInTransaction(entry);
        return haltFromSqlite(row);
      });
    },
    async listHalts(filter = {}) {
      const rows = q.listHalts.all(
        filter.app ?? null,
        filter.version ?? null,
        filter.active === true ? 1 : 0,
      );
      return (rows as SqliteRow[]).map(haltFromSqlite);
    },
  };
}
