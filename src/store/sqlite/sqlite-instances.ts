import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import type { InstanceTarget } from '../types.ts';
import { copyPlacement, instanceState, missingInstances } from '../instance-record.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import { SQLITE_INSTANCE_COLUMNS, instanceFromSqlite } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';
import type { InstanceMethods } from '../method-groups.ts';
import { decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** The two target columns of a target. */
function targetColumns(t: InstanceTarget | null): [string | null, string | null] {
  if (!t) return [null, null];
  return 'version' in t ? ['version', t.version] : ['channel', t.channel];
}

/**
 * Instances in SQLite: declared fields as columns, runtime state as one JSON column. The maintenance
 * window is a declared field (column `maintenance_window`: `window` is a keyword).
 */
export function createSqliteInstances(db: DatabaseSync, audit: SqliteAuditLog, log?: RowLog): InstanceMethods {
  const q = {
    insert: db.prepare(
      `INSERT INTO instances (${SQLITE_INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare(`SELECT ${SQLITE_INSTANCE_COLUMNS} FROM instances WHERE name = ?`),
    list: db.prepare(`SELECT ${SQLITE_INSTANCE_COLUMNS} FROM instances ORDER BY name LIMIT ?`),
    listAfter: db.prepare(`SELECT ${SQLITE_INSTANCE_COLUMNS} FROM instances WHERE name > ? ORDER BY name LIMIT ?`),
    saveState: db.prepare('UPDATE instances SET state = ?, updated_at = ? WHERE name = ?'),
    delete: db.prepare('DELETE FROM instances WHERE name = ?'),
    deleteLock: db.prepare('DELETE FROM locks WHERE instance = ?'),
    existing: db.prepare('SELECT name FROM instances WHERE name IN (SELECT value FROM json_each(?))'),
    // One statement for every shape of change: a flag per field says whether to set it.
    updateSpec: db.prepare(
      `UPDATE instances SET
         environment = CASE WHEN ?2 THEN ?3 ELSE environment END,
         tenant = CASE WHEN ?4 THEN ?5 ELSE tenant END,
         labels = CASE WHEN ?6 THEN ?7 ELSE labels END,
         target_kind = CASE WHEN ?8 THEN ?9 ELSE target_kind END,
         target_value = CASE WHEN ?8 THEN ?10 ELSE target_value END,
         maintenance_window = CASE WHEN ?12 THEN ?13 ELSE maintenance_window END,
         hosts = CASE WHEN ?14 THEN ?15 ELSE hosts END,
         placement = CASE WHEN ?16 THEN ?17 ELSE placement END,
         updated_at = ?11
       WHERE name = ?1`,
    ),
  };
  q.get.setReturnArrays(true);
  q.list.setReturnArrays(true);
  q.listAfter.setReturnArrays(true);
  q.existing.setReturnArrays(true);

  return {
    async insertInstance(i) {
      const [kind, value] = targetColumns(i.target);
      const res = q.insert.run(
        i.name,
        i.app,
        JSON.stringify(i.hosts),
        i.environment,
        i.tenant,
        JSON.stringify(i.labels),
        kind,
        value,
        JSON.stringify(instanceState(i)),
        i.createdAt,
        i.updatedAt,
        i.window ?? null,
        i.placement ? JSON.stringify(copyPlacement(i.placement)) : null,
      );
      return Number(res.changes) === 1;
    },
    async getInstance(name) {
      const row = q.get.get(name) as unknown as SQLOutputValue[] | undefined;
      return row && instanceFromSqlite(row);
    },
    async listInstances(page = {}) {
      // LIMIT -1: no limit. Keyset paging: `name > after` seeks in the table's own name order.
      const limit = page.limit === undefined ? -1 : Math.max(0, page.limit);
      const rows = page.after === undefined ? q.list.all(limit) : q.listAfter.all(page.after, limit);
      return decodeRows(rows as unknown as SQLOutputValue[][], instanceFromSqlite, 'instances', (r) => r[0], log);
    },
    async saveInstanceState(i) {
      q.saveState.run(JSON.stringify(instanceState(i)), i.updatedAt, i.name);
    },
    async updateInstanceSpecs(changes, at, entries) {
      return transaction(db, () => {
        const names = [...new Set(changes.map((c) => c.name))];
        const found = new Set(
          (q.existing.all(JSON.stringify(names)) as unknown as SQLOutputValue[][]).map((r) => r[0] as string),
        );
        const missing = missingInstances(changes, (name) => found.has(name));
        // Nothing written yet: committing the empty transaction changes nothing.
        if (missing.length > 0) return { missing };
        for (const c of changes) {
          const [kind, value] = targetColumns(c.target ?? null);
          q.updateSpec.run(
            c.name,
            c.environment !== undefined ? 1 : 0,
            c.environment ?? null,
            c.tenant !== undefined ? 1 : 0,
            c.tenant ?? null,
            c.labels !== undefined ? 1 : 0,
            c.labels === undefined ? null : JSON.stringify(c.labels),
            c.target !== undefined ? 1 : 0,
            kind,
            value,
            at,
            c.window !== undefined ? 1 : 0,
            c.window ?? null,
            c.hosts !== undefined ? 1 : 0,
            c.hosts === undefined ? null : JSON.stringify(c.hosts),
            c.placement !== undefined ? 1 : 0,
            c.placement ? JSON.stringify(copyPlacement(c.placement)) : null,
          );
        }
        for (const e of entries) audit.appendInTransaction(e);
        return { missing: [] };
      });
    },
    async deleteInstance(name, entry) {
      return transaction(db, () => {
        if (Number(q.delete.run(name).changes) !== 1) return false;
        q.deleteLock.run(name);
        audit.appendInTransaction(entry);
        return true;
      });
    },
  };
}
