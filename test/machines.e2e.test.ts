import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { readFile } from 'node:fs/promises';
import { CONFIG_HOME, cutover, cutoverText, freePort, manifest, startProcess, tempDir } from './helpers.ts';
import { makeTestCerts, opensslFingerprint } from './tls-certs.ts';
import type { TestCerts } from './tls-certs.ts';

/**
 * The API over HTTPS (`--tls-cert`/`--tls-key`), the CLI trusting a given CA (`--ca-file`,
 * `CUTOVER_CA_FILE`), and join tokens and machines through the CLI, with an agent's join and
 * heartbeat made over HTTPS: one server for the file, certificates made with openssl in the test.
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
  console.log(`machines e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('the server serves HTTPS and reports the SHA-256 of its certificate, as openssl computes it', async () => {
  const expected = await opensslFingerprint(certs.cert);
  assert.match(server!.info.api, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server!.info.tlsFingerprint, expected);
  const printed = await cutover(data.dir, ['server', '--print-fingerprint', '--tls-cert', certs.cert, '--tls-key', certs.key]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(printed.json, { certificate: certs.cert, sha256: expected });
});

test('the CLI works with --ca-file or CUTOVER_CA_FILE, and without the CA it fails naming --ca-file; a --ca-file that worked is remembered', async () => {
  const without = await cutover(data.dir, ['token', 'list']);
  assert.equal(without.code, 6, without.stdout);
  assert.equal(without.json.error.code, 'TLS_UNTRUSTED');
  assert.match(without.json.error.message, /does not trust .*--ca-file FILE or CUTOVER_CA_FILE/);

  const withEnv = await cutover(data.dir, ['token', 'list'], { CUTOVER_CA_FILE: certs.ca });
  assert.equal(withEnv.code, 0, withEnv.stderr + withEnv.stdout);
  assert.equal((await cutover(data.dir, ['token', 'list'])).code, 6, 'CUTOVER_CA_FILE is not recorded');
  const withFlag = await cutover(data.dir, ['token', 'list', '--ca-file', certs.ca]);
  assert.equal(withFlag.code, 0, withFlag.stderr + withFlag.stdout);
  assert.deepEqual(withFlag.json.items.map((t: { name: string }) => t.name), ['admin']);
  const contexts = JSON.parse(await readFile(join(CONFIG_HOME, 'cutover', 'contexts.json'), 'utf8'));
  assert.equal(contexts.contexts[server!.info.api].caFile, certs.ca, 'the context of this server records the CA');
  const later = await cutover(data.dir, ['token', 'list']);
  assert.equal(later.code, 0, `later commands need no --ca-file: ${later.stdout}`);

  const wrong = await cutover(data.dir, ['token', 'list', '--ca-file', certs.otherCa]);
  assert.equal(wrong.code, 6, wrong.stdout);
  assert.equal(wrong.json.error.code, 'TLS_UNTRUSTED');
  assert.ok(wrong.json.error.message.includes(`not signed by the CA in ${certs.otherCa}`), wrong.json.error.message);
});

test('a key file other users may read is refused at start, naming the chmod that fixes it; nothing starts', async () => {
  const loose = join(data.dir, 'loose.key');
  await copyFile(certs.key, loose);
  await chmod(loose, 0o644);
  const r = await cutover(join(data.dir, 'other'), ['server', '--api-port', '0', '--tls-cert', certs.cert, '--tls-key', loose]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.json.error.code, 'TLS_INVALID');
  assert.ok(r.json.error.message.includes(`chmod 600 ${loose}`), r.json.error.message);
});

/** An agent's request over HTTPS, trusting only the test CA. */
async function asAgent(path: string, body: object, credential?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const dispatcher = new Agent({ connect: { ca: await readFile(certs.ca, 'utf8') } });
  try {
    const res = await undiciFetch(`${server!.info.api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
      body: JSON.stringify(body),
      dispatcher,
    });
    return { status: res.status, body: await res.json() };
  } finally {
    await dispatcher.close();
  }
}

test('join tokens and machines through the CLI; an agent joins and reports over HTTPS with the token and its credential', async () => {
  // The API's unit tests (src/api/machines-api.test.ts) cover each refusal; this is the CLI and the wire.
  const ca = ['--ca-file', certs.ca];
  const created = await cutover(data.dir, ['join-token', 'create', '--expires', '1h', '--uses', '1', ...ca]);
  assert.equal(created.code, 0, created.stderr + created.stdout);
  assert.equal(created.json.fingerprint, await opensslFingerprint(certs.cert));
  assert.deepEqual(created.json.urls, [server!.info.api], 'default: the URL the CLI reached the server at');

  const join = { token: created.json.token, name: 'web-1', labels: { role: 'web' }, agentVersion: '0.1.0', protocolVersion: 1 };
  const joined = await asAgent('/v1/machines/join', join);
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  assert.equal(joined.body.machine.address, '127.0.0.1');
  assert.equal((await asAgent('/v1/machines/join', { ...join, name: 'web-2' })).body.code, 'JOIN_TOKEN_USED');
  assert.equal((await asAgent('/v1/machines/heartbeat', {}, joined.body.credential)).status, 200);

  const wide = await cutoverText(data.dir, ['machine', 'list', '-o', 'wide', ...ca]);
  assert.match(wide.stdout, /NAME\s+STATUS\s+CONNECTED\s+LABELS\s+ADDRESS.*JOIN TOKEN/);
  // Joined by hand over HTTP, without a session: not connected.
  assert.match(wide.stdout, new RegExp(`web-1\\s+active\\s+no\\s+role=web\\s+127\\.0\\.0\\.1.*${created.json.id}`));

  const rotated = await cutover(data.dir, ['machine', 'rotate-credential', 'web-1', ...ca]);
  assert.equal(rotated.code, 0, rotated.stdout);
  assert.equal((await asAgent('/v1/machines/heartbeat', {}, joined.body.credential)).body.code, 'MACHINE_CREDENTIAL_INVALID');
  assert.equal((await asAgent('/v1/machines/heartbeat', {}, rotated.json.credential)).status, 200);
  assert.equal((await cutover(data.dir, ['machine', 'drain', 'web-1', ...ca])).json.status, 'draining');
  assert.equal((await cutover(data.dir, ['machine', 'remove', 'web-1', '--yes', ...ca])).json.status, 'removed');
  assert.equal((await asAgent('/v1/machines/heartbeat', {}, rotated.json.credential)).body.code, 'MACHINE_CREDENTIAL_INVALID');
});

test('placement through the CLI: --machine, MACHINE_REQUIRED with several machines, the MACHINE, INSTANCES and DRIFT columns, remove refused while in use', async () => {
  // The rules are unit-tested (src/control/placement.test.ts, src/api/placement-api.test.ts); this is the CLI's flags, exit codes and columns.
  const ca = ['--ca-file', certs.ca];
  assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.0.0'), ...ca])).code, 0);
  const token = (await cutover(data.dir, ['join-token', 'create', '--expires', '1h', ...ca])).json.token as string;
  for (const name of ['web-2', 'web-3']) {
    const joined = await asAgent('/v1/machines/join', { token, name, labels: {}, agentVersion: '0.1.0', protocolVersion: 1 });
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
  }
  const create = ['instance', 'create', 'placed', '--app', 'hello', '--host', 'placed.test', ...ca];
  const ambiguous = await cutover(data.dir, create);
  assert.equal(ambiguous.code, 8, ambiguous.stdout);
  assert.equal(ambiguous.json.error.code, 'MACHINE_REQUIRED');
  assert.match(ambiguous.json.error.message, /\(web-2, web-3\); say which run the instance with --machine NAME \(repeatable\) or --machine-selector/);
  const placed = await cutover(data.dir, [...create, '--machine', 'web-3']);
  assert.equal(placed.code, 0, placed.stdout);
  assert.deepEqual(placed.json.placement, { machines: ['web-3'] });
  const both = await cutover(data.dir, ['instance', 'create', 'both', '--app', 'hello', '--host', 'both.test', '--machine-selector', 'name=web-*', ...ca]);
  assert.equal(both.code, 0, both.stdout);
  assert.deepEqual(both.json.placement, { selector: 'name=web-*' });

  assert.match((await cutoverText(data.dir, ['instance', 'list', ...ca])).stdout, /ON TARGET\s+MACHINE\n[\s\S]*placed\s+hello\s+production\s+-\s.*\sweb-3\n/);
  assert.match((await cutoverText(data.dir, ['instance', 'show', 'placed', ...ca])).stdout, /machine\s+web-3/);
  const list = (await cutoverText(data.dir, ['machine', 'list', ...ca])).stdout;
  assert.match(list, /INSTANCES\s+DRIFT/);
  assert.match(list, /web-3\s+active.*\s2\s+none/, 'placed, and both by its selector');
  assert.match((await cutoverText(data.dir, ['machine', 'show', 'web-3', ...ca])).stdout, /instances\s+both, placed/);

  const remove = await cutover(data.dir, ['machine', 'remove', 'web-3', '--yes', ...ca]);
  assert.equal(remove.code, 4, remove.stdout);
  assert.equal(remove.json.error.code, 'MACHINE_IN_USE');
  assert.match(remove.json.error.message, /the only machine of placed/);
});
