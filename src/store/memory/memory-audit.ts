import { chainAuditEntry } from '../audit-chain.ts';
import type { AuditEntry, AuditFilter, NewAuditEntry } from '../types.ts';
import type { AuditMethods } from '../method-groups.ts';

/** A JSON round trip: what a database hands back, so the memory store behaves like one. */
export const jsonCopy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Whether an entry matches every field the filter gives. */
export function matchesAudit(e: AuditEntry, f: AuditFilter): boolean {
  return (
    (f.instance === undefined || e.instance === f.instance) &&
    (f.version === undefined || e.version === f.version) &&
    (f.app === undefined || e.app === f.app) &&
    (f.actor === undefined || e.actor === f.actor) &&
    (f.subject === undefined || e.subject === f.subject) &&
    (f.action === undefined || e.action === f.action) &&
    (f.since === undefined || e.at >= f.since) &&
    (f.until === undefined || e.at < f.until)
  );
}

/**
 * The memory store's hash-chained audit log. Every method is synchronous, so an append can never
 * interleave with another: that is what makes it atomic here. Entry `n` is at index `n - 1`.
 */
export function createMemoryAuditLog() {
  const entries: AuditEntry[] = [];
  let head: { id: number; hash: string } | undefined;

  /**
   * Appends entries in order, all or none: each is chained and serialised before the first is
   * stored, so an entry that cannot be serialised leaves the log as it was.
   */
  function appendAll(news: NewAuditEntry[]): AuditEntry[] {
    const chained: AuditEntry[] = [];
    let last = head;
    for (const entry of news) {
      // Hash first, then keep the JSON form: the canonical JSON of both is the same, and the JSON
      // form is what a database returns (undefined keys dropped, values detached from the caller).
      const stored = jsonCopy(chainAuditEntry(entry, (last?.id ?? 0) + 1, last?.hash ?? ''));
      chained.push(stored);
      last = { id: stored.id, hash: stored.hash };
    }
    for (const e of chained) entries.push(e);
    head = last;
    return chained.map((e) => structuredClone(e));
  }

  return {
    appendAll,
    append(entry: NewAuditEntry): AuditEntry {
      return appendAll([entry])[0]!;
    },
    list(filter: AuditFilter = {}): AuditEntry[] {
      const limit = filter.limit === undefined ? Infinity : Math.max(0, filter.limit);
      const out: AuditEntry[] = [];
      const start =
        filter.before === undefined ? entries.length - 1 : Math.min(entries.length, filter.before - 1) - 1;
      for (let i = start; i >= 0 && out.length < limit; i -= 1) {
        const e = entries[i]!;
        if (matchesAudit(e, filter)) out.push(structuredClone(e));
      }
      return out;
    },
    readChain(after: number, limit: number): AuditEntry[] {
      return entries
        .slice(Math.max(0, after), Math.max(0, after) + Math.max(0, limit))
        .map((e) => structuredClone(e));
    },
    head(): { id: number; hash: string } | undefined {
      return head && { ...head };
    },
  };
}

/** The memory audit log, shared by the parts of the memory store that append to it. */
export type MemoryAuditLog = ReturnType<typeof createMemoryAuditLog>;

/** The Store's audit methods over the memory audit log. */
export function memoryAuditMethods(audit: MemoryAuditLog): AuditMethods {
  return {
    async appendAudit(entry) {
      return audit.append(entry);
    },
    async listAudit(filter) {
      return audit.list(filter);
    },
    async readAuditChain(after, limit) {
      return audit.readChain(after, limit);
    },
    async auditHead() {
      return audit.head();
    },
  };
}
