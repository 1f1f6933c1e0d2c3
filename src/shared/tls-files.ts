import { readFile, stat } from 'node:fs/promises';
import { CutoverError } from './errors.ts';

/** The server's certificate and key as `node:https` takes them, and the certificate's fingerprint. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** SHA-256 of the certificate's DER encoding, lowercase hex without separators (what join tokens pin). */
  fingerprint: string;
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
export async function readTlsFiles(certFile: string, keyFile: string): Promise<TlsFiles> {
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
  return { cert, key, fingerprint };
}

async function readText(file: string, what: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CutoverError('TLS_INVALID', `cannot read the TLS ${what} file ${file} (${(error as NodeJS.ErrnoException).code}); check ${setting}`, { cause: error });
  }
}
