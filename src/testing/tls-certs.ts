// The throwaway CA and server certificates for the end-to-end tests and benchmarks (openssl).
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
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

/** A certificate for DNS names, its key, and where they are. */
export interface HostCert {
  cert: string;
  key: string;
}

/**
 * A leaf certificate for DNS names (`shop.test`, `*.shop.test`), with a key of its own, signed by
 * the CA `ca` of {@link makeTestCerts} (its key beside it as `.key`), in `dir` as `<name>.pem` and
 * `<name>.key`; valid from `start` to `end` (by default one day ago to 90 days ahead), or with
 * `expired` for one day in 2020 only. `openssl ca` is used because Debian's openssl 3.0 has no
 * `x509 -not_before`/`-not_after`, and `-days` cannot be negative: an expired or not-yet-valid
 * certificate needs explicit dates. A mismatched pair is one leaf's certificate with another's key.
 */
export async function makeHostCert(
  dir: string,
  name: string,
  ca: string,
  hosts: readonly string[],
  options: { expired?: boolean; start?: Date; end?: Date } = {},
): Promise<HostCert> {
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  const stamp = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  const start = options.expired ? new Date('2020-01-01T00:00:00Z') : (options.start ?? new Date(Date.now() - 86_400_000));
  const end = options.expired ? new Date('2020-01-02T00:00:00Z') : (options.end ?? new Date(Date.now() + 90 * 86_400_000));
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${hosts[0] ?? name}`]);
  const db = f('db');
  await writeFile(db, '');
  await writeFile(
    f('cnf'),
    [
      '[ca]', 'default_ca = test', '[test]', `database = ${db}`, `new_certs_dir = ${dir}`, 'default_md = sha256', 'policy = any',
      'unique_subject = no', 'copy_extensions = none', 'rand_serial = yes', 'x509_extensions = leaf',
      '[any]', 'commonName = supplied', '[leaf]', `subjectAltName = ${hosts.map((h) => `DNS:${h}`).join(',')}`, '',
    ].join('\n'),
  );
  await run('openssl', [
    'ca', '-batch', '-notext', '-config', f('cnf'), '-cert', ca, '-keyfile', ca.replace(/\.pem$/, '.key'),
    '-in', f('csr'), '-out', f('pem'), '-startdate', stamp(start), '-enddate', stamp(end),
  ]);
  await chmod(f('key'), 0o600);
  return { cert: f('pem'), key: f('key') };
}
