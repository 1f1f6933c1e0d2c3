// The throwaway CA and server certificates for the end-to-end tests and benchmarks (openssl).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A test CA and a server certificate it signed, as PEM files in a directory. */
export interface TestCerts {
  /** The CA's certificate: what `--ca-file` trusts. */
  ca: string;
  /** The server's certificate, for the IP addresses given (subjectAltName). */
  cert: string;
  /** Its key, mode 0600. */
  key: string;
  /** Another CA's certificate, which did not sign the server's. */
  otherCa: string;
}

/**
 * Makes a CA and a server certificate for `ips` with Debian's `openssl` (P-256 keys: fast), valid
 * for two days, in `dir`.
 */
export async function makeTestCerts(dir: string, ips: string[] = ['127.0.0.1']): Promise<TestCerts> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=cutover-test-ca']);
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('other-ca.key'), '-out', f('other-ca.pem'), '-days', '2', '-subj', '/CN=cutover-other-ca']);
  await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', `/CN=${ips[0]}`]);
  await writeFile(f('server.ext'), `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n`);
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext')]);
  await chmod(f('server.key'), 0o600);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), otherCa: f('other-ca.pem') };
}

/** The SHA-256 fingerprint of a PEM certificate as openssl computes it, lowercase hex. */
export async function opensslFingerprint(cert: string): Promise<string> {
  const { stdout } = await run('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']);
  return stdout.trim().split('=')[1]!.replaceAll(':', '').toLowerCase();
}

/**
 * Another server certificate for `ips`, with a key of its own, signed by the CA `ca` (e.g. `ca.pem`
 * of {@link makeTestCerts}, whose key is beside it as `.key`): a renewal, as the same CA would issue it.
 */
export async function makeLeafCert(dir: string, name: string, ca: string, ips: string[] = ['127.0.0.1']): Promise<{ cert: string; key: string }> {
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${name}`]);
  await writeFile(f('ext'), `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n`);
  await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', ca, '-CAkey', ca.replace(/\.pem$/, '.key'), '-CAcreateserial', '-out', f('pem'), '-days', '2', '-extfile', f('ext')]);
  await chmod(f('key'), 0o600);
  return { cert: f('pem'), key: f('key') };
}

/**
 * A leaf certificate for DNS names (`shop.test`, `*.shop.test`), with a key of its own, signed by
 * the CA `ca` of {@link makeTestCerts}, in `dir` as `<name>.pem` and `<name>.key`. With `expired`
 * it was valid for one day in 2020 only (made with `openssl ca`, which takes explicit dates).
 * A mismatched pair is one leaf's certificate with another's key.
 */
export async function makeHostCert(
  dir: string,
  name: string,
  ca: string,
  hosts: string[],
  options: { expired?: boolean } = {},
): Promise<{ cert: string; key: string }> {
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  const caKey = ca.replace(/\.pem$/, '.key');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${hosts[0] ?? name}`]);
  await writeFile(f('ext'), `subjectAltName=${hosts.map((host) => `DNS:${host}`).join(',')}\n`);
  if (options.expired === true) {
    // `openssl x509 -req` (OpenSSL 3.0) cannot date a certificate in the past; `openssl ca` can.
    const db = await mkdtemp(join(dir, `${name}-ca-`));
    await writeFile(join(db, 'index.txt'), '');
    await writeFile(join(db, 'serial'), '01\n');
    await writeFile(join(db, 'ca.cnf'), `[ca]\ndefault_ca=d\n[d]\ndatabase=${join(db, 'index.txt')}\nnew_certs_dir=${db}\nserial=${join(db, 'serial')}\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n`);
    await run('openssl', ['ca', '-batch', '-config', join(db, 'ca.cnf'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-in', f('csr'), '-out', f('pem'), '-keyfile', caKey, '-cert', ca, '-notext', '-extfile', f('ext')]);
  } else {
    // A random serial, not `-CAcreateserial`: leaves signed at once would race on the CA's serial file.
    const serial = `0x${randomBytes(16).toString('hex')}`;
    await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', ca, '-CAkey', caKey, '-set_serial', serial, '-out', f('pem'), '-days', '2', '-extfile', f('ext')]);
  }
  await chmod(f('key'), 0o600);
  return { cert: f('pem'), key: f('key') };
}
