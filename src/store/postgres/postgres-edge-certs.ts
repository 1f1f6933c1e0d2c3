import type { SealedValue } from '../app-config-records.ts';
import type { EdgeCertificateRecord } from '../edge-cert-records.ts';
import type { EdgeCertificateMethods } from '../method-groups.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { json } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import type { Row } from './postgres-rows.ts';

const fromRow = (r: Row): EdgeCertificateRecord => ({
  host: r.host as string,
  isDefault: r.is_default as boolean,
  cert: r.cert as string,
  key: r.sealed_key as SealedValue,
  hosts: r.hosts as string[],
  fingerprint: r.fingerprint as string,
  notAfter: r.not_after as string,
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
});

/** Edge certificates in PostgreSQL, shared by every replica; each write with its audit entry in one transaction. */
export function createPostgresEdgeCertificates({ query, transaction }: PgDb): EdgeCertificateMethods {
  return {
    async listEdgeCertificates() {
      return (await query('SELECT * FROM edge_certificates ORDER BY host')).rows.map(fromRow);
    },
    async getEdgeCertificate(host) {
      const row = (await query('SELECT * FROM edge_certificates WHERE host = $1', [host])).rows[0];
      return row === undefined ? undefined : fromRow(row);
    },
    async putEdgeCertificate(c, audit) {
      await transaction(async (client) => {
        if (c.isDefault) await client.query('UPDATE edge_certificates SET is_default = FALSE WHERE is_default AND host <> $1', [c.host]);
        await client.query(
          `INSERT INTO edge_certificates (host, is_default, cert, sealed_key, hosts, fingerprint, not_after, created_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (host) DO UPDATE SET is_default = EXCLUDED.is_default, cert = EXCLUDED.cert, sealed_key = EXCLUDED.sealed_key,
             hosts = EXCLUDED.hosts, fingerprint = EXCLUDED.fingerprint, not_after = EXCLUDED.not_after,
             created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by`,
          [c.host, c.isDefault, c.cert, json(c.key), json(c.hosts), c.fingerprint, c.notAfter, c.createdAt, c.createdBy],
        );
        await appendAuditEntries(client, [audit]);
      });
    },
    async deleteEdgeCertificate(host, audit) {
      return transaction(async (client) => {
        const res = await client.query('DELETE FROM edge_certificates WHERE host = $1', [host]);
        if ((res.rowCount ?? 0) === 0) return false;
        await appendAuditEntries(client, [audit]);
        return true;
      });
    },
    async resealEdgeCertificateKeys(keys) {
      await transaction(async (client) => {
        for (const { host, key } of keys) await client.query('UPDATE edge_certificates SET sealed_key = $1 WHERE host = $2', [json(key), host]);
      });
    },
  };
}
