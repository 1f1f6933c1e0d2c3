import type { EdgeCertificateRecord } from '../edge-cert-records.ts';
import type { EdgeCertificateMethods } from '../method-groups.ts';
import { jsonCopy } from './memory-audit.ts';
import type { MemoryAuditLog } from './memory-audit.ts';

/** Edge certificates for the memory store, copied in and out as a database would. */
export function createMemoryEdgeCertificates(audit: MemoryAuditLog): EdgeCertificateMethods {
  const certs = new Map<string, EdgeCertificateRecord>();
  return {
    async listEdgeCertificates() {
      return [...certs.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)).map(jsonCopy);
    },
    async getEdgeCertificate(host) {
      const c = certs.get(host);
      return c && jsonCopy(c);
    },
    async putEdgeCertificate(record, entry) {
      const stored = jsonCopy(record);
      audit.append(entry);
      if (stored.isDefault) for (const c of certs.values()) c.isDefault = false;
      certs.set(stored.host, stored);
    },
    async deleteEdgeCertificate(host, entry) {
      if (!certs.has(host)) return false;
      audit.append(entry);
      certs.delete(host);
      return true;
    },
    async resealEdgeCertificateKeys(keys) {
      for (const { host, key } of keys) {
        const c = certs.get(host);
        if (c) c.key = jsonCopy(key);
      }
    },
  };
}
