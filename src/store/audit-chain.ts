import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/index.ts';
import type { AuditEntry, NewAuditEntry } from './types.ts';

/** An entry as it is hashed: every field but `hash`, with absent optional fields as null. */
export type ChainedFields = Omit<AuditEntry, 'hash'>;

/** Fills the optional fields of a new entry (null, `{}`), so every store hashes the same object. */
export function completeAuditEntry(entry: NewAuditEntry, id: number, prevHash: string): ChainedFields {
  return {
    id,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    instance: entry.instance ?? null,
    app: entry.app ?? null,
    version: entry.version ?? null,
    reason: entry.reason ?? null,
    requestId: entry.requestId ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
    details: entry.details ?? {},
    prevHash,
  };
}

/** sha256 (hex) of the entry's canonical JSON, which includes the previous entry's hash. */
export function auditHash(fields: ChainedFields): string {
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

/** Builds the stored entry: id, prevHash and hash assigned. */
export function chainAuditEntry(entry: NewAuditEntry, id: number, prevHash: string): AuditEntry {
  const fields = completeAuditEntry(entry, id, prevHash);
  return { ...fields, hash: auditHash(fields) };
}

export interface ChainProblem {
  /** The id of the first entry that does not fit. */
  id: number;
  kind: 'edited' | 'deleted' | 'truncated';
  message: string;
}

export interface ChainCheck {
  ok: boolean;
  /** Entries checked. */
  checked: number;
  /** The last entry's id and hash (what to keep elsewhere to detect tampering later). */
  last: { id: number; hash: string } | null;
  problem: ChainProblem | null;
}

/**
 * Checks a chain walked oldest first in pages: feed each page to `push`, then call `finish` with
 * the store's head. Stops at the first problem:
 * - an entry whose hash does not match its content → edited;
 * - an id gap, or a `prevHash` that is not the previous entry's hash → deleted (or edited);
 * - fewer entries than the head records → deleted from the end;
 * - entries but no head → the head was deleted (so was, perhaps, the end of the log);
 * - no entries at all once the store was bootstrapped (`context.bootstrapped`) → deleted.
 */
export function createChainVerifier() {
  let checked = 0;
  let last: { id: number; hash: string } | null = null;
  let problem: ChainProblem | null = null;

  const push = (entries: Iterable<AuditEntry>): boolean => {
    for (const e of entries) {
      if (problem) return false;
      const expectedId = (last?.id ?? 0) + 1;
      const expectedPrev = last?.hash ?? '';
      const { hash, ...fields } = e;
      if (auditHash(fields) !== hash) {
        problem = { id: e.id, kind: 'edited', message: `entry #${e.id} was changed after it was written: its content does not match its hash` };
      } else if (e.id !== expectedId) {
        problem = {
          id: e.id,
          kind: 'deleted',
          message: `${e.id - 1 === expectedId ? `entry #${expectedId} is` : `entries #${expectedId}…#${e.id - 1} are`} missing: the chain jumps from #${expectedId - 1} to #${e.id}`,
        };
      } else if (e.prevHash !== expectedPrev) {
        problem = {
          id: e.id,
          kind: 'deleted',
          message: `entry #${e.id} does not follow #${expectedId - 1}: the entry it was chained to was deleted or replaced`,
        };
      } else {
        checked += 1;
        last = { id: e.id, hash };
        continue;
      }
      return false;
    }
    return true;
  };

  const finish = (head: { id: number; hash: string } | undefined, context: { bootstrapped?: boolean } = {}): ChainCheck => {
    if (!problem && !head && last) {
      // Every append moves the head in the same transaction: entries without a head row means the
      // row was deleted, and with it the only record of where the log ended.
      problem = {
        id: last.id,
        kind: 'truncated',
        message: `the chain's head is missing while the log holds ${checked} entries (up to #${last.id}): entries after #${last.id} may have been deleted`,
      };
    }
    if (!problem && !last && context.bootstrapped) {
      problem = {
        id: 1,
        kind: 'deleted',
        message: 'the log is empty, but this server was bootstrapped: entry #1 (token.create by system) and every entry after it were deleted',
      };
    }
    if (!problem && head && (head.id !== (last?.id ?? 0) || head.hash !== (last?.hash ?? ''))) {
      problem =
        head.id > (last?.id ?? 0)
          ? {
              id: (last?.id ?? 0) + 1,
              kind: 'truncated',
              message: `entries #${(last?.id ?? 0) + 1}…#${head.id} were deleted from the end: the log ends at #${last?.id ?? 0} but its head records #${head.id}`,
            }
          : { id: head.id, kind: 'edited', message: `the chain's head (#${head.id}) does not match its last entry (#${last?.id ?? 0})` };
    }
    return { ok: problem === null, checked, last, problem };
  };

  return { push, finish };
}

/** Checks a whole chain held in memory (oldest first). */
export function verifyAuditChain(
  entries: Iterable<AuditEntry>,
  head: { id: number; hash: string } | undefined,
  context: { bootstrapped?: boolean } = {},
): ChainCheck {
  const v = createChainVerifier();
  v.push(entries);
  return v.finish(head, context);
}
