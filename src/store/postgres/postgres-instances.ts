import type { InstanceRecord, InstanceSpecChange } from '../types.ts';
import { copyPlacement, copySlot, copyTarget } from '../instance-record.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { json, jsonOrNull, limitOf } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import { INSTANCE_COLUMNS, toInstance } from './postgres-rows.ts';
import { assertInstanceShape, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';
import type { InstanceMethods } from '../method-groups.ts';

/** Slots with only the record's fields, as every store keeps them. */
const slotsJson = (slots: InstanceRecord['slots']): string =>
  json({ blue: copySlot(slots.blue), green: copySlot(slots.green) });

/**
 * Instances in PostgreSQL: declared fields (hosts, environment, tenant, labels, target, window) and
 * runtime state (current version, active colour, slots) in columns of their own, so a spec change
 * and a state save each write only their part of the row.
 */
export function createPostgresInstances({ pool, query, transaction }: PgDb, log?: RowLog): InstanceMethods {
  return {
    async insertInstance(i) {
      const res = await query(
        `INSERT INTO instances (${INSTANCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT DO NOTHING`,
        [
          i.name,
          i.app,
          json(i.hosts),
          i.environment,
          i.tenant,
          json(i.labels),
          jsonOrNull(copyTarget(i.target)),
          i.currentVersion,
          i.activeColor,
          slotsJson(i.slots),
          i.createdAt,
          i.updatedAt,
          i.window ?? null,
          jsonOrNull(copyPlacement(i.placement)),
        ],
      );
      return res.rowCount === 1;
    },
    async getInstance(name) {
      const res = await pool.query<unknown[]>({
        text: `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE name = $1`,
        values: [name],
        rowMode: 'array',
      });
      return res.rows[0] && toInstance(res.rows[0]);
    },
    async listInstances(page = {}) {
      // Array rows: a fleet listing can be 100,000 rows, and positional reads skip building a keyed object per row.
      const res = await pool.query<unknown[]>({
        text: `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2`,
        values: [page.after ?? null, limitOf(page.limit)],
        rowMode: 'array',
      });
      return decodeRows(res.rows, (r) => assertInstanceShape(toInstance(r)), 'instances', (r) => r[0], log);
    },
    async saveInstanceState(i) {
      await query(
        'UPDATE instances SET current_version = $2, active_color = $3, slots = $4, updated_at = $5 WHERE name = $1',
        [i.name, i.currentVersion, i.activeColor, slotsJson(i.slots), i.updatedAt],
      );
    },
    async updateInstanceSpecs(changes, at, audit) {
      const merged = mergeSpecChanges(changes);
      const names = [...merged.keys()];
      return transaction(async (client) => {
        // Lock the rows in name order, so two overlapping bulk changes cannot deadlock each other.
        const found = await client.query<{ name: string }>(
          'SELECT name FROM instances WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE',
          [names],
        );
        const present = new Set(found.rows.map((r) => r.name));
        const missing = names.filter((n) => !present.has(n));
        if (missing.length > 0) return { missing };
        if (names.length > 0) {
          const rows = [...merged.values()].map((c) => ({
            name: c.name,
            has_target: c.target !== undefined,
            target: c.target === undefined ? null : copyTarget(c.target),
            labels: c.labels ?? null,
            has_tenant: c.tenant !== undefined,
            tenant: c.tenant ?? null,
            environment: c.environment ?? null,
            has_window: c.window !== undefined,
            window: c.window ?? null,
            hosts: c.hosts ?? null,
            has_placement: c.placement !== undefined,
            placement: c.placement === undefined ? null : copyPlacement(c.placement),
          }));
          await client.query(
            `UPDATE instances AS i SET
               target = CASE WHEN c.has_target THEN c.target ELSE i.target END,
               labels = COALESCE(c.labels, i.labels),
               tenant = CASE WHEN c.has_tenant THEN c.tenant ELSE i.tenant END,
               environment = COALESCE(c.environment, i.environment),
               maintenance_window = CASE WHEN c.has_window THEN c."window" ELSE i.maintenance_window END,
               hosts = COALESCE(c.hosts, i.hosts),
               placement = CASE WHEN c.has_placement THEN c.placement ELSE i.placement END,
               updated_at = $2
             FROM json_to_recordset($1::json) AS c(name text, has_target boolean, target json, labels json, has_tenant boolean, tenant text, environment text, has_window boolean, "window" text, hosts json, has_placement boolean, placement json)
             WHERE i.name = c.name`,
            [json(rows), at],
          );
        }
        await appendAuditEntries(client, audit);
        return { missing: [] };
      });
    },
    async deleteInstance(name, entry) {
      return transaction(async (client) => {
        const res = await client.query('DELETE FROM instances WHERE name = $1', [name]);
        if (res.rowCount !== 1) return false;
        await client.query('DELETE FROM locks WHERE instance = $1', [name]);
        await appendAuditEntries(client, [entry]);
        return true;
      });
    },
  };
}

/**
 * Folds several changes of one instance into one (later fields win), so the single UPDATE applies
 * them as if in order. Keeps first-seen order of names.
 */
function mergeSpecChanges(changes: readonly InstanceSpecChange[]): Map<string, InstanceSpecChange> {
  const merged = new Map<string, InstanceSpecChange>();
  for (const change of changes) {
    const prev = merged.get(change.name);
    const next: InstanceSpecChange = { ...prev, name: change.name };
    if (change.target !== undefined) next.target = change.target;
    if (change.labels !== undefined) next.labels = change.labels;
    if (change.tenant !== undefined) next.tenant = change.tenant;
    if (change.environment !== undefined) next.environment = change.environment;
    if (change.window !== undefined) next.window = change.window;
    if (change.hosts !== undefined) next.hosts = change.hosts;
    if (change.placement !== undefined) next.placement = change.placement;
    merged.set(change.name, next);
  }
  return merged;
}
