import type { InstanceRecord, LockRecord } from '../types.ts';
import { applySpecChange, copyInstance, instanceState, missingInstances } from '../instance-record.ts';
import type { InstanceMethods } from '../method-groups.ts';
import type { MemoryAuditLog } from './memory-audit.ts';

/** The index of the first name in sorted `names` that is greater than `after`. */
function firstAfter(names: string[], after: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Instances for the memory store. Deleting one also drops its lease (`locks`, shared with the
 * store's leases), as the databases' foreign key does.
 */
export function createMemoryInstances(
  audit: MemoryAuditLog,
  locks: Map<string, LockRecord>,
): InstanceMethods {
  const instances = new Map<string, InstanceRecord>();
  // Names in code-unit order (what `<` compares and what SQLite's BINARY collation gives for the
  // names Cutover allows), rebuilt lazily after an insert so paging costs a binary search, not a sort.
  let sortedNames: string[] | null = null;
  return {
    async insertInstance(instance) {
      if (instances.has(instance.name)) return false;
      instances.set(instance.name, copyInstance(instance));
      sortedNames = null;
      return true;
    },
    async getInstance(name) {
      const i = instances.get(name);
      return i && copyInstance(i);
    },
    async listInstances(page = {}) {
      sortedNames ??= [...instances.keys()].sort();
      const names = sortedNames;
      const start = page.after === undefined ? 0 : firstAfter(names, page.after);
      const end =
        page.limit === undefined ? names.length : Math.min(names.length, start + Math.max(0, page.limit));
      const out: InstanceRecord[] = [];
      for (let k = start; k < end; k += 1) out.push(copyInstance(instances.get(names[k]!)!));
      return out;
    },
    async saveInstanceState(instance) {
      const stored = instances.get(instance.name);
      if (!stored) return;
      Object.assign(stored, instanceState(instance), { updatedAt: instance.updatedAt });
    },
    async updateInstanceSpecs(changes, at, entries) {
      const missing = missingInstances(changes, (name) => instances.has(name));
      if (missing.length > 0) return { missing };
      // Audit first: it is the only step that can throw, and it appends all entries or none.
      audit.appendAll(entries);
      for (const change of changes) applySpecChange(instances.get(change.name)!, change, at);
      return { missing: [] };
    },
    async deleteInstance(name, entry) {
      if (!instances.has(name)) return false;
      audit.appendAll([entry]);
      instances.delete(name);
      locks.delete(name);
      sortedNames = null;
      return true;
    },
  };
}
