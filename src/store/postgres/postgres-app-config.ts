import type { PoolClient } from 'pg';
import type { AppConfigEntry, AppConfigVersion } from '../app-config-records.ts';
import type { AppConfigMethods } from '../method-groups.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { json } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import type { Row } from './postgres-rows.ts';

// Every app-config writer takes this transaction-scoped advisory lock first (before the audit
// head's, which every writer takes last): a rotation re-sealing versions 1..N and a change storing
// N + 1 run one after the other, never interleaved, so no version is left sealed with a retired key.
const APP_CONFIG_LOCK = 7_020_020;

const toVersion = (r: Row): AppConfigVersion => ({
  id: Number(r.id),
  createdAt: Number(r.created_at),
  actor: r.actor as string,
  change: r.change as string,
  entries: r.entries as AppConfigEntry[],
  activeKeyId: (r.active_key_id as string | null) ?? null,
  keyChecks: r.key_checks as Record<string, string>,
});

async function lockedLatest(client: PoolClient): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [APP_CONFIG_LOCK]);
  const res = await client.query<{ id: number }>('SELECT COALESCE(MAX(id), 0)::bigint AS id FROM app_config_versions');
  return Number(res.rows[0]!.id);
}

/** App-config versions in PostgreSQL, shared by every replica. */
export function createPostgresAppConfig({ query, transaction }: PgDb): AppConfigMethods {
  return {
    async getAppConfigVersion(id) {
      const res = id === undefined
        ? await query('SELECT * FROM app_config_versions ORDER BY id DESC LIMIT 1')
        : await query('SELECT * FROM app_config_versions WHERE id = $1', [id]);
      return res.rows[0] === undefined ? undefined : toVersion(res.rows[0]);
    },
    async listAppConfigVersions() {
      return (await query('SELECT * FROM app_config_versions ORDER BY id')).rows.map(toVersion);
    },
    async insertAppConfigVersion(v, audit) {
      return transaction(async (client) => {
        if ((await lockedLatest(client)) !== v.id - 1) return false;
        await client.query(
          `INSERT INTO app_config_versions (id, created_at, actor, change, entries, active_key_id, key_checks)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [v.id, v.createdAt, v.actor, v.change, json(v.entries), v.activeKeyId, json(v.keyChecks)],
        );
        await appendAuditEntries(client, [audit]);
        return true;
      });
    },
    async rewriteAppConfigVersions(versions, expectLatest, audit) {
      return transaction(async (client) => {
        if ((await lockedLatest(client)) !== expectLatest) return false;
        for (const v of versions) {
          await client.query('UPDATE app_config_versions SET entries = $1, active_key_id = $2, key_checks = $3 WHERE id = $4', [
            json(v.entries),
            v.activeKeyId,
            json(v.keyChecks),
            v.id,
          ]);
        }
        await appendAuditEntries(client, [audit]);
        return true;
      });
    },
    async deleteAppConfigVersions(ids) {
      if (ids.length === 0) return 0;
      return transaction(async (client) => {
        const latest = await lockedLatest(client);
        const res = await client.query('DELETE FROM app_config_versions WHERE id = ANY($1::bigint[]) AND id <> $2', [ids, latest]);
        return res.rowCount ?? 0;
      });
    },
  };
}
