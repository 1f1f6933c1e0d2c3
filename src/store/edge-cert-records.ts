// Edge certificates as the store keeps them (issue 21): one pair per host name the router serves
// over TLS, plus at most one marked default. The key is sealed by the server with the app-config
// key ring before it gets here (ADR 0027): the database never holds a clear private key.
import type { SealedValue } from './app-config-records.ts';

export interface EdgeCertificateRecord {
  /** The host name it was set for (`tls set HOST`): exact or a one-label wildcard, lowercase. */
  host: string;
  /** Serves handshakes with an unknown or absent SNI. At most one record is the default. */
  isDefault: boolean;
  /** PEM: the chain, leaf first (public). */
  cert: string;
  /** The private key, sealed with one key of the ring. */
  key: SealedValue;
  /** The leaf's DNS names. */
  hosts: string[];
  /** Lowercase hex SHA-256 of the leaf's DER. */
  fingerprint: string;
  /** ISO 8601. */
  notAfter: string;
  createdAt: number;
  createdBy: string;
}
