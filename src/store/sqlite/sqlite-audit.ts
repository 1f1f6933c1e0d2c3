import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import { chainAuditEntry } from '../audit-chain.ts';
import type { AuditEntry, AuditFilter, NewAuditEntry } from '../types.ts';
import { SQLITE_AUDIT_COLUMNS, auditFromSqlite } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';
import type { AuditMethods } from '../method-groups.ts';
import { createFilteredList } from './filtered-list.ts';
import type { Filter } from './filtered-list.ts';
import { checkAuditEntry, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Equality filters of AuditFilter and their columns. */
const EQUALS: [keyof AuditFilter, string][] = [
  ['instance', 'instance'],
  ['version', 'version'],
  ['app', 'app'],
  ['actor', 'actor'],
  ['subject', 'subject'],
  ['action', 'action'],
];

/**
 * The SQLite audit chain. `appendInTransaction` is for methods that append inside their own
 * transaction (channel moves, instance spec changes); `methods` are the Store's audit methods.
 * `listAudit` skips (and logs) a row that does not decode; `readAuditChain`, which `audit verify`
 * reads, throws instead: a damaged entry must fail verification, not vanish from it.
 */
export function createSqliteAuditLog(db: DatabaseSync, log?: RowLog) {
  const q = {
    head: db.prepare('SELECT id, hash FROM audit_head WHERE one = 1'),
    setHead: db.prepare(
      'INSERT INTO audit_head (one, id, hash) VALUES (1, ?1, ?2) ON CONFLICT (one) DO UPDATE SET id = ?1, hash = ?2',
    ),
    insert: db.prepare(`INSERT INTO audit (${SQLITE_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    chain: db.prepare(`SELECT ${SQLITE_AUDIT_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?`),
  };
  q.chain.setReturnArrays(true);
  // listAudit builds its WHERE from the filters given, so each query can use its index.
  const list = createFilteredList(db, (stmt) => stmt.setReturnArrays(true));

  const readHead = (): { id: number; hash: string } | undefined => {
    const r = q.head.get() as { id: number; hash: string } | undefined;
    return r && { id: Number(r.id), hash: r.hash };
  };

  /** Appends one entry; the caller holds the write transaction. */
  const appendInTransaction = (entry: NewAuditEntry): AuditEntry => {
    const head = readHead();
    const e = chainAuditEntry(entry, (head?.id ?? 0) + 1, head?.hash ?? '');
    const before = JSON.stringify(e.before);
    const after = JSON.stringify(e.after);
    const details = JSON.stringify(e.details);
    q.insert.run(
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
      before,
      after,
      details,
      e.prevHash,
      e.hash,
    );
    q.setHead.run(e.id, e.hash);
    // Return what a read gives back: JSON values parsed from what was stored, detached from the caller.
    return {
      ...e,
      before: JSON.parse(before) as unknown,
      after: JSON.parse(after) as unknown,
      details: JSON.parse(details) as Record<string, unknown>,
    };
  };

  const methods: AuditMethods = {
    async appendAudit(entry) {
      return transaction(db, () => appendInTransaction(entry));
    },
    async listAudit(filter: AuditFilter = {}) {
      const filters: Filter[] = [
        ...EQUALS.map(([key, column]): Filter => [`${column} = ?`, filter[key]]),
        ['at >= ?', filter.since],
        ['at < ?', filter.until],
        ['id < ?', filter.before],
      ];
      const rows = list(
        `SELECT ${SQLITE_AUDIT_COLUMNS} FROM audit`,
        filters,
        'ORDER BY id DESC',
        filter.limit,
      ) as SQLOutputValue[][];
      return decodeRows(
        rows,
        (r) => checkAuditEntry(auditFromSqlite(r)),
        'audit',
        (r) => r[0],
        log,
      );
    },
    async readAuditChain(after, limit) {
      return (q.chain.all(after, Math.max(0, limit)) as unknown as SQLOutputValue[][]).map(auditFromSqlite);
    },
    async auditHead() {
      return readHead();
    },
  };

  return { appendInTransaction, methods };
}

/** The SQLite audit chain, shared by the parts of the SQLite store that append to it. */
export type SqliteAuditLog = ReturnType<typeof createSqliteAuditLog>;
