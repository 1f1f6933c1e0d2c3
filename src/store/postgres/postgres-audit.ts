import type { PoolClient } from 'pg';
import { chainAuditEntry } from '../audit-chain.ts';
import type { AuditEntry, NewAuditEntry } from '../types.ts';
import { checkAuditEntry, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';
import type { AuditMethods } from '../method-groups.ts';
import { jsonOrNull, limitOf } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import { toAudit } from './postgres-rows.ts';
import { createWhere } from './postgres-where.ts';

/**
 * Key of the transaction-scoped advisory lock that serialises audit appenders across every
 * connection and every server replica sharing the database ('cut' + 2; advisory locks are per database).
 */
const AUDIT_LOCK = 0x637574_0002;

const COLUMNS = 15;
const TEXT_FIELDS = ['actor', 'action', 'subject', 'instance', 'app', 'version', 'reason', 'requestId'] as const;
/** Rows per INSERT: 15 parameters each, well under PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_INSERT = 1000;


/**
 * Appends entries to the hash chain inside the caller's open transaction (READ COMMITTED).
 *
 * Why an advisory lock and not a sequence: ids have no gaps and each entry hashes its predecessor,
 * so appenders must take turns from reading the head to committing. `pg_advisory_xact_lock` is held
 * until the transaction ends; the head is read after taking it, and under READ COMMITTED that read
 * sees every chain that committed before. The lock is always the last one a transaction takes
 * (after any row locks), so it cannot be part of a deadlock cycle.
 */
export async function appendAuditEntries(client: PoolClient, entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
  if (entries.length === 0) return [];
  // Through JSON and back, before taking the lock: an entry that cannot be serialised throws here,
  // and the entry returned equals the one read later (undefined members dropped).
  const plain = entries.map((entry) => {
    const copy = JSON.parse(JSON.stringify(entry)) as Record<string, unknown>;
    // A text column stores UTF-8, where a lone surrogate becomes U+FFFD; hashing the string as it
    // will read back keeps the chain valid (inside json columns JSON escapes keep it intact).
    for (const key of TEXT_FIELDS) if (typeof copy[key] === 'string') copy[key] = copy[key].toWellFormed();
    return copy as NewAuditEntry;
  });
  await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
  const head = (await client.query<{ id: number; hash: string }>('SELECT id, hash FROM audit_head')).rows[0];
  let id = head?.id ?? 0;
  let prevHash = head?.hash ?? '';
  const chained: AuditEntry[] = [];
  for (const entry of plain) {
    const stored = chainAuditEntry(entry, ++id, prevHash);
    chained.push(stored);
    prevHash = stored.hash;
  }
  for (let start = 0; start < chained.length; start += ROWS_PER_INSERT) {
    const batch = chained.slice(start, start + ROWS_PER_INSERT);
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const e of batch) {
      const n = values.length;
      tuples.push(`(${Array.from({ length: COLUMNS }, (_, i) => `$${n + i + 1}`).join(', ')})`);
      values.push(
        e.id,
        e.at,
        e.actor,
        e.action,
        e.subject,
        e.instance,
        e.app,
        e.version,
        e.reason,
        e.requestId,
        jsonOrNull(e.before),
        jsonOrNull(e.after),
        JSON.stringify(e.details),
        e.prevHash,
        e.hash,
      );
    }
    await client.query(
      `INSERT INTO audit (id, at, actor, action, subject, instance, app, version, reason, request_id, before, after, details, prev_hash, hash)
       VALUES ${tuples.join(', ')}`,
      values,
    );
  }
  await client.query(
    `INSERT INTO audit_head (singleton, id, hash) VALUES (TRUE, $1, $2)
     ON CONFLICT (singleton) DO UPDATE SET id = excluded.id, hash = excluded.hash`,
    [id, prevHash],
  );
  return chained;
}

/** The Store's audit methods for PostgreSQL: every append runs {@link appendAuditEntries} in a transaction of its own. */
export function createPostgresAudit({ query, transaction }: PgDb, log?: RowLog): AuditMethods {
  return {
    async appendAudit(entry) {
      return (await transaction((client) => appendAuditEntries(client, [entry])))[0]!;
    },
    async listAudit(filter = {}) {
      const w = createWhere();
      if (filter.instance !== undefined) w.add('instance = ?', filter.instance);
      if (filter.app !== undefined) w.add('app = ?', filter.app);
      if (filter.version !== undefined) w.add('version = ?', filter.version);
      if (filter.actor !== undefined) w.add('actor = ?', filter.actor);
      if (filter.subject !== undefined) w.add('subject = ?', filter.subject);
      if (filter.action !== undefined) w.add('action = ?', filter.action);
      if (filter.since !== undefined) w.add('at >= ?', filter.since);
      if (filter.until !== undefined) w.add('at < ?', filter.until);
      if (filter.before !== undefined) w.add('id < ?', filter.before);
      const limit = w.limit(limitOf(filter.limit));
      const res = await query(`SELECT * FROM audit ${w.clause()} ORDER BY id DESC LIMIT ${limit}`, w.values);
      return decodeRows(res.rows, (r) => checkAuditEntry(toAudit(r)), 'audit', (r) => r.id, log);
    },
    async readAuditChain(after, limit) {
      const res = await query('SELECT * FROM audit WHERE id > $1 ORDER BY id LIMIT $2', [after, limitOf(limit)]);
      return res.rows.map(toAudit);
    },
    async auditHead() {
      const res = await query<{ id: number; hash: string }>('SELECT id, hash FROM audit_head');
      return res.rows[0] && { id: res.rows[0].id, hash: res.rows[0].hash };
    },
  };
}
