import type { DatabaseSync } from 'node:sqlite';
import type { SealedValue } from '../app-config-records.ts';
import type { EdgeCertificateRecord } from '../edge-cert-records.ts';
import type { EdgeCertificateMethods } from '../method-groups.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';

const fromRow = (r: SqliteRow): EdgeCertificateRecord => ({
  host: r.host as string,
  isDefault: Number(r.is_default) === 1,
  cert: r.cert as string,
  key: JSON.parse(r.sealed_key as string) as SealedValue,
  hosts: JSON.parse(r.hosts as string) as string[],
  fingerprint: r.fingerprint as string,
  notAfter: r.not_after as string,
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
});

/** Edge certificates in SQLite; each write with its audit entry in one transaction. */
export function createSqliteEdgeCertificates(db: DatabaseSync, audit: SqliteAuditLog): EdgeCertificateMethods {
  const q = {
    list: db.prepare('SELECT * FROM edge_certificates ORDER BY host'),
    get: db.prepare('SELECT * FROM edge_certificates WHERE host = ?'),
    clearDefault: db.prepare('UPDATE edge_certificates SET is_default = 0 WHERE is_default = 1'),
    upsert: db.prepare(
      `INSERT INTO edge_certificates (host, is_default, cert, sealed_key, hosts, fingerprint, not_after, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (host) DO UPDATE SET is_default = excluded.is_default, cert = excluded.cert, sealed_key = excluded.sealed_key,
         hosts = excluded.hosts, fingerprint = excluded.fingerprint, not_after = excluded.not_after,
         created_at = excluded.created_at, created_by = excluded.created_by`,
    ),
    delete: db.prepare('DELETE FROM edge_certificates WHERE host = ?'),
    reseal: db.prepare('UPDATE edge_certificates SET sealed_key = ? WHERE host = ?'),
  };
  return {
    async listEdgeCertificates() {
      return (q.list.all() as SqliteRow[]).map(fromRow);
    },
    async getEdgeCertificate(host) {
      const row = q.get.get(host) as SqliteRow | undefined;
      return row && fromRow(row);
    },
    async putEdgeCertificate(c, entry) {
      transaction(db, () => {
        if (c.isDefault) q.clearDefault.run();
        q.upsert.run(c.host, c.isDefault ? 1 : 0, c.cert, JSON.stringify(c.key), JSON.stringify(c.hosts), c.fingerprint, c.notAfter, c.createdAt, c.createdBy);
        audit.appendInTransaction(entry);
      });
    },
    async deleteEdgeCertificate(host, entry) {
      return transaction(db, () => {
        if (Number(q.delete.run(host).changes) === 0) return false;
        audit.appendInTransaction(entry);
        return true;
      });
    },
    async resealEdgeCertificateKeys(keys) {
      transaction(db, () => {
        for (const { host, key } of keys) q.reseal.run(JSON.stringify(key), host);
      });
    },
  };
}
