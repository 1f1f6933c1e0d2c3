import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cutover, freePort, startProcess, tempDir } from './helpers.ts';
import { makeTestCerts, opensslFingerprint } from './tls-certs.ts';
import type { TestCerts } from './tls-certs.ts';

/**
 * The API over HTTPS (`--tls-cert`/`--tls-key`) and the CLI trusting a given CA (`--ca-file`,
 * `CUTOVER_CA_FILE`): one server for the file, certificates made with openssl in the test.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCerts;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;
const started = Date.now();

before(async () => {
  data = await tempDir('tls');
  certs = await makeTestCerts(data.dir);
  server = await startProcess(data.dir, ['server', '--api-port', String(await freePort()), '--tls-cert', certs.cert, '--tls-key', certs.key]);
});

after(async () => {
  await server?.stop();
  await data?.cleanup();
  console.log(`tls e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('the server serves HTTPS and reports the SHA-256 of its certificate, as openssl computes it', async () => {
  const expected = await opensslFingerprint(certs.cert);
  assert.match(server!.info.api, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server!.info.tlsFingerprint, expected);
  const printed = await cutover(data.dir, ['server', '--print-fingerprint', '--tls-cert', certs.cert, '--tls-key', certs.key]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(printed.json, { certificate: certs.cert, sha256: expected });
});

test('the CLI works with --ca-file or CUTOVER_CA_FILE, and without the CA it fails naming --ca-file', async () => {
  const withFlag = await cutover(data.dir, ['token', 'list', '--ca-file', certs.ca]);
  assert.equal(withFlag.code, 0, withFlag.stderr + withFlag.stdout);
  assert.deepEqual(withFlag.json.map((t: { name: string }) => t.name), ['admin']);
  const withEnv = await cutover(data.dir, ['token', 'list'], { CUTOVER_CA_FILE: certs.ca });
  assert.equal(withEnv.code, 0, withEnv.stderr + withEnv.stdout);

  const without = await cutover(data.dir, ['token', 'list']);
  assert.equal(without.code, 6, without.stdout);
  assert.equal(without.json.error.code, 'TLS_UNTRUSTED');
  assert.match(without.json.error.message, /does not trust .*--ca-file FILE or CUTOVER_CA_FILE/);

  const wrong = await cutover(data.dir, ['token', 'list', '--ca-file', certs.otherCa]);
  assert.equal(wrong.code, 6, wrong.stdout);
  assert.equal(wrong.json.error.code, 'TLS_UNTRUSTED');
  assert.ok(wrong.json.error.message.includes(`not signed by the CA in ${certs.otherCa}`), wrong.json.error.message);

  const missing = await cutover(data.dir, ['token', 'list', '--ca-file', join(data.dir, 'nope.pem')]);
  assert.equal(missing.code, 2);
  assert.match(missing.json.error.message, /cannot read the CA file .*nope\.pem/);
});

test('a key file other users may read is refused at start, naming the chmod that fixes it; nothing starts', async () => {
  const loose = join(data.dir, 'loose.key');
  await copyFile(certs.key, loose);
  await chmod(loose, 0o644);
  const r = await cutover(join(data.dir, 'other'), ['server', '--api-port', '0', '--tls-cert', certs.cert, '--tls-key', loose]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.json.error.code, 'TLS_INVALID');
  assert.ok(r.json.error.message.includes(`chmod 600 ${loose}`), r.json.error.message);
  const half = await cutover(join(data.dir, 'other'), ['server', '--api-port', '0', '--tls-cert', certs.cert]);
  assert.equal(half.code, 2);
  assert.match(half.json.error.message, /tlsCert and tlsKey go together/);
});
