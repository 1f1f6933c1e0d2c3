import type { AppConfigVersion } from '../app-config-records.ts';
import type { AppConfigMethods } from '../method-groups.ts';
import { jsonCopy } from './memory-audit.ts';
import type { MemoryAuditLog } from './memory-audit.ts';

/** App-config versions for the memory store, copied in and out as a database would. */
export function createMemoryAppConfig(audit: MemoryAuditLog): AppConfigMethods {
  const versions = new Map<number, AppConfigVersion>();
  let latest = 0;

  return {
    async getAppConfigVersion(id) {
      const v = versions.get(id ?? latest);
      return v && jsonCopy(v);
    },
    async listAppConfigVersions() {
      return [...versions.values()].sort((a, b) => a.id - b.id).map(jsonCopy);
    },
    async insertAppConfigVersion(version, entry) {
      if (version.id !== latest + 1) return false;
      const stored = jsonCopy(version);
      audit.append(entry);
      versions.set(version.id, stored);
      latest = version.id;
      return true;
    },
    async rewriteAppConfigVersions(rewrites, expectLatest, entry) {
      if (latest !== expectLatest) return false;
      const copies = rewrites.filter((v) => versions.has(v.id)).map(jsonCopy);
      audit.append(entry);
      for (const v of copies) {
        const old = versions.get(v.id)!;
        versions.set(v.id, { ...old, entries: v.entries, activeKeyId: v.activeKeyId, keyChecks: v.keyChecks });
      }
      return true;
    },
    async deleteAppConfigVersions(ids) {
      let n = 0;
      for (const id of ids) if (id !== latest && versions.delete(id)) n += 1;
      return n;
    },
  };
}
