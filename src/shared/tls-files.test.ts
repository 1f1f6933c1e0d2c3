import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certFingerprint, checkTlsCa, keyFileProblem } from './tls-files.ts';
import { CutoverError } from './errors.ts';

test('a TLS key file must be 0600 or 0400 and owned by the server user', () => {
  assert.equal(keyFileProblem('/k', { mode: 0o100600, uid: 5 }, 5), undefined);
  assert.equal(keyFileProblem('/k', { mode: 0o100400, uid: 5 }, 5), undefined);
  for (const mode of [0o640, 0o604, 0o700, 0o644, 0o666]) {
    assert.match(keyFileProblem('/k', { mode, uid: 5 }, 5) ?? '', /other users may read it: run `chmod 600 \/k`/, mode.toString(8));
  }
  assert.match(keyFileProblem('/k', { mode: 0o600, uid: 6 }, 5) ?? '', /belongs to uid 6, not to the server's user \(uid 5\): run `chown 5 \/k`/);
});

test('tlsCa: the CA must have signed tlsCert; the chain the server presents then ends with it', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const run = promisify(execFile);
  const dir = await mkdtemp(join(tmpdir(), 'cutover-tls-ca-'));
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    for (const ca of ['ca', 'other']) await run('openssl', ['req', '-x509', ...ec, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '1', '-subj', `/CN=${ca}`]);
    await run('openssl', ['req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=leaf']);
    await writeFile(f('ext'), 'subjectAltName=IP:127.0.0.1\n');
    await run('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '1', '-extfile', f('ext')]);
    const [leaf, ca, other] = await Promise.all(['leaf.pem', 'ca.pem', 'other.pem'].map((n) => readFile(f(n), 'utf8')));
    const files = { cert: f('leaf.pem'), ca: f('ca.pem') };

    const checked = await checkTlsCa(leaf!, ca!, files);
    assert.equal(checked.caFingerprint, await certFingerprint(ca!));
    assert.equal(checked.chain.match(/BEGIN CERTIFICATE/g)?.length, 2, 'the CA follows the certificate');
    assert.equal((await checkTlsCa(checked.chain, ca!, files)).chain, checked.chain, 'a chain that already ends with the CA is served as it is');

    const refused = (e: unknown, why: RegExp) => e instanceof CutoverError && e.code === 'TLS_INVALID' && why.test(e.message);
    await assert.rejects(checkTlsCa(leaf!, other!, files), (e) => refused(e, /the certificate in .*leaf\.pem was not signed by the CA in .*ca\.pem; check tlsCa \(--tls-ca\)/));
    await assert.rejects(checkTlsCa(leaf!, leaf!, files), (e) => refused(e, /is not a CA certificate/));
    await assert.rejects(checkTlsCa(leaf!, 'not a certificate', files), (e) => refused(e, /is not a PEM certificate/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
