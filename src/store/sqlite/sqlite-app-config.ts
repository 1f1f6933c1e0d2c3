import type { DatabaseSync } from 'node:sqlite';
import type { AppConfigEntry, AppConfigVersion } from '../app-config-records.ts';
import type { AppConfigMethods } from '../method-groups.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';

const versionFromSqlite = (r: SqliteRow): AppConfigVersion => ({
  id: Number(r.id),
  createdAt: Number(r.created_at),
  actor: r.actor as string,
  change: r.change as string,
  entries: JSON.parse(r.entries as string) as AppConfigEntry[],
  activeKeyId: (r.active_key_id as string | null) ?? null,
  keyChecks: JSON.parse(r.key_checks as string) as Record<string, string>,
});

/** App-config versions in SQLite; each write in one transaction (BEGIN IMMEDIATE serialises writers). */
export function createSqliteAppConfig(db: DatabaseSync, audit: SqliteAuditLog): AppConfigMethods {
  const q = {
    latestId: db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM app_config_versions'),
    get: db.prepare('SELECT * FROM app_config_versions WHERE id = ?'),
    list: db.prepare('SELECT * FROM app_config_versions ORDER BY id'),
    insert: db.prepare(
      `INSERT INTO app_config_versions (id, created_at, actor, change, entries, active_key_id, key_checks)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    rewrite: db.prepare('UPDATE app_config_versions SET entries = ?, active_key_id = ?, key_checks = ? WHERE id = ?'),
    delete: db.prepare('DELETE FROM app_config_versions WHERE id = ? AND id <> (SELECT MAX(id) FROM app_config_versions)'),
  };
  const latest = () => Number((q.latestId.get() as { id: number }).id);

  return {
    async getAppConfigVersion(id) {
      const row = q.get.get(id ?? latest()) as SqliteRow | undefined;
      return row && versionFromSqlite(row);
    },
    async listAppConfigVersions() {
      return (q.list.all() as SqliteRow[]).map(versionFromSqlite);
    },
    async insertAppConfigVersion(v, entry) {
      return transaction(db, () => {
        if (latest() !== v.id - 1) return false;
        q.insert.run(v.id, v.createdAt, v.actor, v.change, JSON.stringify(v.entries), v.activeKeyId, JSON.stringify(v.keyChecks));
        audit.appendInTransaction(entry);
        return true;
      });
    },
    async rewriteAppConfigVersions(versions, expectLatest, entry) {
      return transaction(db, () => {
        if (latest() !== expectLatest) return false;
        for (const v of versions) q.rewrite.run(JSON.stringify(v.entries), v.activeKeyId, JSON.stringify(v.keyChecks), v.id);
        audit.appendInTransaction(entry);
        return true;
      });
    },
    async deleteAppConfigVersions(ids) {
      return transaction(db, () => {
        let n = 0;
        for (const id of ids) n += Number(q.delete.run(id).changes);
        return n;
      });
    },
  };
}
