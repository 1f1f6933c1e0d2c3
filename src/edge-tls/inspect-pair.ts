// What a certificate and key pair is, and whether it may serve a host (issue 21). Pure over the
// PEM text and the time: `tls set` on the server and the agent's watched file pair both ask it
// before anything changes, so a refused pair leaves the old one serving.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { CutoverError, certificateHostProblem } from '../shared/index.ts';

/** A pair as the user gives it: the chain (leaf first) and its private key, PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/** What a usable pair is (never its key). */
export interface PairFacts {
  /** The leaf's DNS names (subjectAltName), lowercase, in its order. */
  hosts: string[];
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Lowercase hex SHA-256 of the leaf's DER: what `openssl x509 -fingerprint -sha256` prints, without colons. */
  fingerprint: string;
}

/** A certificate that expires within this many days is named in `tls list`, `status` and the metrics. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

const invalid = (message: string, details: Record<string, unknown> = {}) => new CutoverError('TLS_INVALID', message, { details });

/** The DNS names of a certificate's subjectAltName (IP addresses and other kinds are left out). */
export function dnsNamesOf(x509: X509Certificate): string[] {
  return (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
}

/**
 * Whether a certificate name covers a host: the same name, or a one-label wildcard (`*.example.com`
 * covers `shop.example.com`, not `example.com` nor `a.shop.example.com`: RFC 6125 §6.4.3). A
 * wildcard host (`tls set '*.example.com'`) is covered only by the same wildcard.
 */
export function nameCovers(name: string, host: string): boolean {
  const n = name.toLowerCase();
  const h = host.toLowerCase();
  if (n === h) return true;
  if (!n.startsWith('*.') || h.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === n.slice(2);
}

/** Why a host name cannot have a certificate, or undefined (the rule the router checks too). */
export const hostProblem = certificateHostProblem;

function parseLeaf(cert: string): X509Certificate {
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw invalid('the certificate file holds no PEM certificate; give the chain file (e.g. fullchain.pem)');
  try {
    return new X509Certificate(cert);
  } catch {
    throw invalid('the certificate file is not a readable PEM certificate; give the chain file (e.g. fullchain.pem)');
  }
}

function parseKey(key: string): ReturnType<typeof createPrivateKey> {
  // No `cause`: what OpenSSL says about a key it could not read is of no use and stays out of errors.
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw invalid('the key file holds no PEM private key; give the key file (e.g. privkey.pem)');
  try {
    return createPrivateKey(key);
  } catch {
    throw invalid('the key file is not a readable, unencrypted PEM private key; give the key file (e.g. privkey.pem)');
  }
}

/**
 * The facts of a pair, or `TLS_INVALID` naming what to fix: the key does not match the certificate,
 * it has expired or is not valid yet at `now` (unless `anyDates`: an agent's own file pair that
 * expired is still better served than refused), or (with `host`) its names do not cover the host.
 */
export function inspectPair(pair: CertPair, now: number, host?: string, options: { anyDates?: boolean } = {}): PairFacts {
  const leaf = parseLeaf(pair.cert);
  const key = parseKey(pair.key);
  if (!leaf.checkPrivateKey(key)) throw invalid('the key does not match the certificate; give the key the certificate was issued for');
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now && options.anyDates !== true) throw invalid(`the certificate expired on ${notAfter.toISOString()}; renew it`, { notAfter: notAfter.toISOString() });
  if (notBefore.getTime() > now && options.anyDates !== true) throw invalid(`the certificate is not valid until ${notBefore.toISOString()}; check the issuer's clock or wait`, { notBefore: notBefore.toISOString() });
  const hosts = dnsNamesOf(leaf);
  if (hosts.length === 0) throw invalid('the certificate names no DNS host (subjectAltName); issue it for the host names it serves');
  if (host !== undefined && !hosts.some((n) => nameCovers(n, host))) {
    throw invalid(`the certificate does not cover ${host}: it names ${hosts.join(', ')}`, { host, names: hosts });
  }
  return { hosts, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), fingerprint: leaf.fingerprint256.replaceAll(':', '').toLowerCase() };
}

/** Whole days until `notAfter` (negative once expired). */
export function daysLeft(notAfter: string, now: number): number {
  return Math.floor((Date.parse(notAfter) - now) / DAY_MS);
}

/** Whether a certificate expires within {@link EXPIRY_WARNING_DAYS} of `now` (or has expired). */
export function expiresSoon(notAfter: string, now: number): boolean {
  return Date.parse(notAfter) - now < EXPIRY_WARNING_DAYS * DAY_MS;
}
