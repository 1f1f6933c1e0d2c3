import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { SecureContext, SecureContextOptions } from 'node:tls';
import { CutoverError, certificateHostProblem } from '../shared/index.ts';
import type { EdgeCertificate, EdgeCertificateInfo } from './router-types.ts';

/** What every context of the TLS listener shares: TLS 1.2 at least (RFC 8996 deprecates 1.0/1.1). */
export const TLS_BASE: SecureContextOptions = { minVersion: 'TLSv1.2' };

/** One certificate loaded for serving: its context is built once, so a handshake only looks it up. */
export interface LoadedCertificate {
  readonly info: EdgeCertificateInfo;
  readonly context: SecureContext;
  readonly cert: string;
  readonly key: string;
}

/**
 * The certificates of one `setCertificates` call, indexed for SNI: exact names, one-label
 * wildcards by their parent domain (`*.example.com` under `example.com`), and the default.
 */
export interface CertificateTable<T> {
  readonly exact: ReadonlyMap<string, T>;
  readonly wildcard: ReadonlyMap<string, T>;
  readonly fallback: T | null;
  readonly all: readonly T[];
}

export const NO_CERTIFICATES: CertificateTable<never> = {
  exact: new Map<string, never>(),
  wildcard: new Map<string, never>(),
  fallback: null,
  all: [],
};

/**
 * The certificate a handshake naming `servername` gets: the exact host, else a one-label wildcard
 * (`a.example.com` → `*.example.com`, never `a.b.example.com`), else the default (null: none).
 * Case and a trailing dot of the name are ignored (DNS names are case-insensitive).
 */
export function pickCertificate<T>(
  table: CertificateTable<T>,
  servername: string | undefined | false,
): T | null {
  if (!servername) return table.fallback;
  let name = servername;
  const exact = table.exact.get(name);
  if (exact !== undefined) return exact;
  name = normaliseServername(name);
  const found = table.exact.get(name);
  if (found !== undefined) return found;
  const dot = name.indexOf('.');
  if (dot > 0) {
    const wild = table.wildcard.get(name.slice(dot + 1));
    if (wild !== undefined) return wild;
  }
  return table.fallback;
}

function normaliseServername(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function invalid(label: string, why: string, cause?: unknown): CutoverError {
  return new CutoverError('TLS_INVALID', `the TLS certificate for ${label} ${why}`, {
    details: { host: label },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Lowercase hex of SHA-256 over the certificate's DER (what `fingerprint256` shows with colons). */
export function fingerprintOf(x509: X509Certificate): string {
  return x509.fingerprint256.replaceAll(':', '').toLowerCase();
}

function checkHosts(cert: EdgeCertificate, label: string): string[] {
  if (!Array.isArray(cert.hosts)) throw invalid(label, 'has no host list; give `hosts` as an array of names');
  if (cert.hosts.length === 0 && cert.isDefault !== true) {
    throw invalid(label, 'serves no host; name at least one, or make it the default');
  }
  return cert.hosts.map((host) => {
    const h = typeof host === 'string' ? host.toLowerCase() : '';
    if (certificateHostProblem(h) !== undefined) {
      throw invalid(
        JSON.stringify(host),
        'names a host that is not a DNS name; use `shop.example.com` or a one-label wildcard `*.example.com`',
      );
    }
    return h;
  });
}

/**
 * Parses, checks and builds the context of one pair; `TLS_INVALID` naming the host when it does
 * not load. A pair `loaded` already holds (the same PEM texts) keeps its context: the agent sends
 * the whole set again at every change, and most of it is unchanged.
 */
export function loadCertificate(
  cert: EdgeCertificate,
  loaded?: ReadonlyMap<string, LoadedCertificate>,
): LoadedCertificate {
  const label = typeof cert.hosts?.[0] === 'string' ? cert.hosts[0] : '(the default certificate)';
  const hosts = checkHosts(cert, label);
  const known = loaded?.get(pairKey(cert));
  if (known !== undefined)
    return { ...known, info: { ...known.info, hosts, isDefault: cert.isDefault === true } };
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert.cert);
  } catch (error) {
    throw invalid(label, 'is not a PEM certificate; give the chain, leaf first (e.g. fullchain.pem)', error);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(cert.key);
  } catch {
    // The parser's message may quote the key's bytes: never a cause here.
    throw invalid(
      label,
      'has a key that is not a PEM private key (unencrypted); give its key file (e.g. privkey.pem)',
    );
  }
  if (!x509.checkPrivateKey(key)) {
    throw invalid(
      label,
      'does not match its key (they are not a pair); give the key this certificate was issued for',
    );
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ ...TLS_BASE, cert: cert.cert, key: cert.key });
  } catch {
    throw invalid(label, 'cannot be served (OpenSSL refused the pair); check both PEM files');
  }
  const info: EdgeCertificateInfo = {
    hosts,
    fingerprint: fingerprintOf(x509),
    notAfter: x509.validToDate.toISOString(),
    isDefault: cert.isDefault === true,
  };
  return { info, context, cert: cert.cert, key: cert.key };
}

function pairKey(pair: { cert: string; key: string }): string {
  return `${pair.cert}\n${pair.key}`;
}

/**
 * Loads a whole set (every pair, before any is served) and indexes it, reusing the contexts of
 * `previous` for pairs it already held. `TLS_INVALID` for the first pair that does not load, a
 * host named by two certificates, or two defaults.
 */
export function loadCertificates(
  certs: readonly EdgeCertificate[],
  previous: CertificateTable<LoadedCertificate> = NO_CERTIFICATES,
): CertificateTable<LoadedCertificate> {
  if (!Array.isArray(certs)) throw invalid('the set', 'is not a list; give an array of certificates');
  const exact = new Map<string, LoadedCertificate>();
  const wildcard = new Map<string, LoadedCertificate>();
  let fallback: LoadedCertificate | null = null;
  const loaded = new Map(previous.all.map((c) => [pairKey(c), c]));
  const all = certs.map((cert) => loadCertificate(cert, loaded));
  for (const loaded of all) {
    if (loaded.info.isDefault) {
      if (fallback !== null) {
        throw invalid(
          loaded.info.hosts[0] ?? '(a second default)',
          'is a second default; only one certificate may be the default',
        );
      }
      fallback = loaded;
    }
    for (const host of loaded.info.hosts) {
      const map = host.startsWith('*.') ? wildcard : exact;
      const name = host.startsWith('*.') ? host.slice(2) : host;
      if (map.has(name)) throw invalid(host, 'is given twice; each host name may have one certificate');
      map.set(name, loaded);
    }
  }
  return { exact, wildcard, fallback, all };
}
