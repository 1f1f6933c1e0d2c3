import { readFile, stat } from 'node:fs/promises';
import { CutoverError } from './errors.ts';

/** The server's certificate and key as `node:https` takes them, and the certificate's fingerprint. */
export interface TlsFiles {
  /** The chain the server presents: `tlsCert`'s, followed by the CA of `tlsCa` when given. */
  cert: string;
  key: string;
  /** SHA-256 of the certificate's DER encoding, lowercase hex without separators (what join tokens pin without a CA). */
  fingerprint: string;
  /** SHA-256 of the CA's certificate (`tlsCa`), what join tokens pin when it is given. */
  caFingerprint?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks that the CA in `caPem` signed the chain in `certPem` (its last certificate is the CA or
 * was issued and signed by it) and returns the CA's fingerprint; `TLS_INVALID` naming both files
 * otherwise. The CA is appended to the chain the server presents (if not there already), so an
 * agent holding only the CA's hash (a join token) finds it in the handshake and checks the
 * signature against it (RFC 8446 §4.4.2 lets a server send the root).
 */
export async function checkTlsCa(certPem: string, caPem: string, files: { cert: string; ca: string }): Promise<{ chain: string; caFingerprint: string }> {
  const { X509Certificate } = await import('node:crypto');
  const invalid = (why: string) => new CutoverError('TLS_INVALID', `${why}; check tlsCa (--tls-ca) and tlsCert (--tls-cert)`, { details: { ca: files.ca, cert: files.cert } });
  let ca: InstanceType<typeof X509Certificate>;
  try {
    ca = new X509Certificate(caPem);
  } catch (error) {
    throw new CutoverError('TLS_INVALID', `the TLS CA file ${files.ca} is not a PEM certificate; check tlsCa (--tls-ca)`, { cause: error });
  }
  if (!ca.ca) throw invalid(`${files.ca} is not a CA certificate (no CA:TRUE basic constraint)`);
  const chain = (certPem.match(PEM_CERT) ?? []).map((pem) => new X509Certificate(pem));
  const last = chain.at(-1);
  const signed = last !== undefined && (last.fingerprint256 === ca.fingerprint256 || (last.checkIssued(ca) && last.verify(ca.publicKey)));
  if (!signed) throw invalid(`the certificate in ${files.cert} was not signed by the CA in ${files.ca}`);
  const caFingerprint = ca.fingerprint256.replaceAll(':', '').toLowerCase();
  const served = last.fingerprint256 === ca.fingerprint256 ? certPem : `${certPem.trimEnd()}\n${ca.toString()}`;
  return { chain: served, caFingerprint };
}

/**
 * The SHA-256 fingerprint of the first certificate of a PEM file: lowercase hex of the DER's hash.
 * (`X509Certificate.fingerprint256` is that hash, written as colon-separated uppercase pairs.)
 * `node:crypto` is imported here, when used: a static import of it from `shared/` would load
 * WebCrypto into every CLI start (bench/cli-startup.ts).
 */
export async function certFingerprint(pem: string): Promise<string> {
  const { X509Certificate } = await import('node:crypto');
  return new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/**
 * Whether a key file's mode and owner keep it private: no bits for group and others, no execute
 * bit (0600 or 0400), owned by the user the server runs as. Returns what to fix, or undefined.
 */
export function keyFileProblem(file: string, info: { mode: number; uid: number }, uid: number): string | undefined {
  const mode = info.mode & 0o777;
  if ((mode & 0o177) !== 0) {
    return `the TLS key file ${file} has mode ${mode.toString(8).padStart(4, '0')}; other users may read it: run \`chmod 600 ${file}\``;
  }
  if (info.uid !== uid) {
    return `the TLS key file ${file} belongs to uid ${info.uid}, not to the server's user (uid ${uid}): run \`chown ${uid} ${file}\``;
  }
  return undefined;
}

/**
 * Reads the server's certificate and key (`tlsCert`, `tlsKey`), refusing (`TLS_INVALID`, naming the
 * fix) a key other users could read or a certificate that does not parse. Never puts the key's
 * content in an error.
 */
export async function readTlsFiles(certFile: string, keyFile: string, caFile?: string): Promise<TlsFiles> {
  const uid = process.getuid?.() ?? 0;
  let keyInfo;
  try {
    keyInfo = await stat(keyFile);
  } catch (error) {
    throw new CutoverError('TLS_INVALID', `cannot read the TLS key file ${keyFile} (${(error as NodeJS.ErrnoException).code}); check tlsKey (--tls-key)`, { cause: error });
  }
  const problem = keyFileProblem(keyFile, keyInfo, uid);
  if (problem) throw new CutoverError('TLS_INVALID', problem, { details: { file: keyFile } });
  const [cert, key] = await Promise.all([readText(certFile, 'certificate', 'tlsCert (--tls-cert)'), readText(keyFile, 'key', 'tlsKey (--tls-key)')]);
  let fingerprint: string;
  try {
    fingerprint = await certFingerprint(cert);
  } catch (error) {
    throw new CutoverError('TLS_INVALID', `the TLS certificate file ${certFile} is not a PEM certificate; check tlsCert (--tls-cert)`, { cause: error });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new CutoverError('TLS_INVALID', `the TLS key file ${keyFile} holds no PEM private key; check tlsKey (--tls-key)`);
  }
  if (caFile === undefined) return { cert, key, fingerprint };
  const { chain, caFingerprint } = await checkTlsCa(cert, await readText(caFile, 'CA', 'tlsCa (--tls-ca)'), { cert: certFile, ca: caFile });
  return { cert: chain, key, fingerprint, caFingerprint };
}

async function readText(file: string, what: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CutoverError('TLS_INVALID', `cannot read the TLS ${what} file ${file} (${(error as NodeJS.ErrnoException).code}); check ${setting}`, { cause: error });
  }
}
