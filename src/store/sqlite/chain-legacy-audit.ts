import type { DatabaseSync } from 'node:sqlite';
import { chainAuditEntry } from '../audit-chain.ts';

type LegacyRow = {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  reason: string | null;
  details: string;
};

/**
 * Chains the audit rows a 0001 database holds, which migration 0002 gave empty hashes (SQL cannot
 * compute sha256). Runs inside 0002's transaction (see `migrate.ts`), so it happens exactly once,
 * together with the schema change: a database is never left half chained, and a row whose hash is
 * blanked later is reported as edited rather than silently re-chained.
 *
 * Rows are taken in id order and numbered 1, 2, 3… (the chain has no gaps; an old database written
 * by 0001 has none either unless rows were deleted, and then the renumbering closes them). The
 * fields 0001 did not have are hashed as absent: null, and `{}` for details.
 */
export function chainLegacyAudit(db: DatabaseSync): void {
  const rows = db
    .prepare('SELECT id, at, actor, action, subject, reason, details FROM audit ORDER BY id')
    .all() as unknown as LegacyRow[];
  if (rows.length === 0) return;
  const update = db.prepare('UPDATE audit SET id = ?, prev_hash = ?, hash = ? WHERE id = ?');
  let prevHash = '';
  let id = 0;
  for (const r of rows) {
    id += 1;
    const entry = chainAuditEntry(
      {
        at: Number(r.at),
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        reason: r.reason,
        details: JSON.parse(r.details) as Record<string, unknown>,
      },
      id,
      prevHash,
    );
    // Ids only ever move down, into a slot an earlier row has already left, so no update collides.
    update.run(id, prevHash, entry.hash, r.id);
    prevHash = entry.hash;
  }
  db.prepare('INSERT INTO audit_head (one, id, hash) VALUES (1, ?, ?)').run(id, prevHash);
}
