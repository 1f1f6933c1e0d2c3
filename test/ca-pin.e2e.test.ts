import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cutover, freePort, startProcess, tempDir, waitFor } from './helpers.ts';
import { makeLeafCert, makeTestCerts, opensslFingerprint } from './tls-certs.ts';
import type { TestCerts } from './tls-certs.ts';

/**
 * Pins that survive a certificate renewal (`--tls-ca`): an agent joined under one certificate keeps
 * reporting once the server restarts with another from the same CA; `--repin` takes a new join
 * token's certificate pin; a server whose certificate another CA signed is refused. Real server and
 * agent processes, certificates made with openssl; the local CLI trusts the server through the CA
 * its start recorded (no --ca-file).
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCerts;
let apiPort: number;
let server: Awaited<ReturnType<typeof startProcess>> | undefined;
const began = Date.now();

const serverDir = () => join(data.dir, 'server');
const agentDir = () => join(data.dir, 'agent');
const agentArgs = async (name: string) => ['agent', '--server', `https://127.0.0.1:${apiPort}`, '--name', name, '--http-port', String(await freePort())];

async function restartServer(tls: string[]): Promise<void> {
  await server?.stop();
  server = await startProcess(serverDir(), ['server', '--api-port', String(apiPort), ...tls]);
}

/** Starts the agent (it joins or re-pins before it answers), waits until its session has been recorded as a heartbeat, then stops it. */
async function agentOnce(env: Record<string, string> = {}, extra: string[] = []): Promise<void> {
  const before = await lastHeartbeat().catch(() => 0);
  const agent = await startProcess(agentDir(), [...(await agentArgs('web-1')), ...extra], env);
  try {
    await waitFor('the agent to open its session', async () => (await lastHeartbeat().catch(() => 0)) > before, 15_000);
  } finally {
    await agent.stop();
  }
}

const lastHeartbeat = async () => {
  const shown = await cutover(serverDir(), ['machine', 'show', 'web-1']);
  assert.equal(shown.code, 0, shown.stdout + shown.stderr);
  return Date.parse(shown.json.lastHeartbeat);
};
const machineFile = async () => JSON.parse(await readFile(join(agentDir(), 'agent', 'private', 'machine.json'), 'utf8'));

before(async () => {
  data = await tempDir('ca-pin');
  // The agents run as root: their slot users must be able to pass through the temp directory.
  await chmod(data.dir, 0o711);
  certs = await makeTestCerts(data.dir);
  apiPort = await freePort();
});

after(async () => {
  await server?.stop();
  await data?.cleanup();
  console.log(`ca-pin e2e: ${((Date.now() - began) / 1000).toFixed(1)} s`);
});

test('a CA-pinned agent survives a renewed certificate; --repin takes a certificate pin; another CA is refused', async () => {
  await restartServer(['--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca]);
  const caSha = await opensslFingerprint(certs.ca);
  assert.equal(server!.info.tlsCaFingerprint, caSha);
  const printed = await cutover(serverDir(), ['server', '--print-fingerprint', '--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca]);
  assert.deepEqual(printed.json, { certificate: certs.cert, sha256: await opensslFingerprint(certs.cert), ca: certs.ca, caSha256: caSha });
  // No --ca-file: the server's start recorded its CA for the local CLI.
  const created = await cutover(serverDir(), ['join-token', 'create', '--expires', '1h']);
  assert.equal(created.code, 0, created.stdout + created.stderr);
  assert.deepEqual([created.json.pin, created.json.fingerprint], ['ca', caSha]);
  await agentOnce({ CUTOVER_JOIN_TOKEN: created.json.token });
  assert.deepEqual([(await machineFile()).pin, (await machineFile()).fingerprint], ['ca', caSha]);
  const joined = await lastHeartbeat();

  // Renewed: a new certificate and key from the same CA. The agent's next report goes through.
  const renewed = await makeLeafCert(data.dir, 'renewed', certs.ca);
  await restartServer(['--tls-cert', renewed.cert, '--tls-key', renewed.key, '--tls-ca', certs.ca]);
  await agentOnce();
  const reported = await lastHeartbeat();
  assert.ok(reported > joined, `the agent reported to the renewed server (${joined} → ${reported})`);

  // Without --tls-ca tokens pin the certificate (v1, as before); --repin takes that pin.
  await restartServer(['--tls-cert', renewed.cert, '--tls-key', renewed.key]);
  const leafToken = await cutover(serverDir(), ['join-token', 'create', '--expires', '1h', '--uses', '1']);
  assert.deepEqual([leafToken.json.pin, leafToken.json.fingerprint], ['cert', await opensslFingerprint(renewed.cert)]);
  assert.equal(JSON.parse(Buffer.from(leafToken.json.token.slice(5), 'base64url').toString()).v, 1);
  await agentOnce({ CUTOVER_JOIN_TOKEN: leafToken.json.token }, ['--repin']);
  assert.deepEqual([(await machineFile()).pin, (await machineFile()).fingerprint], ['cert', leafToken.json.fingerprint]);
  assert.ok((await lastHeartbeat()) > reported, 'the re-pinned agent reported');
  assert.equal((await cutover(serverDir(), ['join-token', 'list'])).json.items.find((t: { id: string }) => t.id === leafToken.json.id).uses, 0, '--repin does not use the token up');

  // A server whose certificate another CA signed: the CA-pinned token is refused before anything is sent.
  const foreign = await makeLeafCert(data.dir, 'foreign', certs.otherCa);
  await restartServer(['--tls-cert', foreign.cert, '--tls-key', foreign.key, '--tls-ca', certs.otherCa]);
  const refused = await cutover(join(data.dir, 'agent-2'), await agentArgs('web-2'), { CUTOVER_JOIN_TOKEN: created.json.token });
  assert.equal(refused.code, 6, refused.stdout + refused.stderr);
  assert.equal(refused.json.error.code, 'TLS_UNTRUSTED');
  assert.match(refused.json.error.message, new RegExp(`presented no certificate chain to the CA the join token pins \\(SHA-256 ${caSha}\\); nothing was sent`));
});
