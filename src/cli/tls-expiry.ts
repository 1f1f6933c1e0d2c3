// `cutover status`'s word on edge certificates (issue 21): those expiring within 14 days, as a
// warning line each and a JSON field, read from `GET /api/tls`.
import type { EdgeCertificateListView } from '../api/index.ts';
import type { ApiClient } from './api-client.ts';

/** A certificate `status` warns about. */
export interface ExpiringCertificate {
  host: string;
  notAfter: string;
  daysLeft: number;
  fingerprint: string;
}

/** The certificates that expire within 14 days (or have expired); none from a server without TLS certificates. */
export async function expiringCertificates(client: ApiClient): Promise<ExpiringCertificate[]> {
  let answer: EdgeCertificateListView;
  try {
    answer = await client.call<EdgeCertificateListView>('GET', '/api/tls');
  } catch {
    // A server of the version before has no `/api/tls`: status still answers.
    return [];
  }
  return answer.certificates.filter((c) => c.expiresSoon).map((c) => ({ host: c.host, notAfter: c.notAfter, daysLeft: c.daysLeft, fingerprint: c.fingerprint }));
}

/** One warning line per certificate, saying what to do. */
export function expiryLines(certs: readonly ExpiringCertificate[]): string {
  return certs
    .map((c) =>
      c.daysLeft < 0
        ? `warning: the TLS certificate of ${c.host} expired on ${c.notAfter.slice(0, 10)}; set a renewed one with \`cutover tls set ${c.host}\``
        : `warning: the TLS certificate of ${c.host} expires in ${c.daysLeft} day${c.daysLeft === 1 ? '' : 's'} (${c.notAfter.slice(0, 10)}); set a renewed one with \`cutover tls set ${c.host}\``,
    )
    .join('\n');
}
