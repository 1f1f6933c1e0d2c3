import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { CutoverError, closeServer, listen } from '../shared/index.ts';
import { chainProblem, connectPinned, pinnedDispatcher } from './pinned-tls.ts';

test('a pinned dispatcher talks only to the server whose certificate has the pinned SHA-256, and sends nothing to another', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-pin-'));
  // A self-signed certificate: no CA would vouch for it, the pin alone does.
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=pin-test']);
  const cert = await readFile(join(dir, 'c.pem'), 'utf8');
  const requests: string[] = [];
  const server = createServer({ cert, key: await readFile(join(dir, 'k.pem'), 'utf8') }, (req, res) => {
    requests.push(req.url ?? '');
    res.end('ok');
  });
  const port = await listen(server, 0, '127.0.0.1');
  const right = pinnedDispatcher(new X509Certificate(cert).fingerprint256.replaceAll(':', '').toLowerCase());
  const wrong = pinnedDispatcher('ab'.repeat(32));
  try {
    const res = await request(`https://127.0.0.1:${port}/pinned`, { dispatcher: right });
    assert.equal(await res.body.text(), 'ok');
    await assert.rejects(request(`https://127.0.0.1:${port}/secret`, { dispatcher: wrong }), (e: unknown) => {
      assert.ok(e instanceof CutoverError && e.code === 'TLS_UNTRUSTED', String(e));
      assert.match(e.message, new RegExp(`but the join token pins ${'ab'.repeat(32)}; nothing was sent`));
      return true;
    });
    assert.deepEqual(requests, ['/pinned'], 'the wrong pin sent no request');
  } finally {
    await right.close();
    await wrong.close();
    await closeServer(server);
    await rm(dir, { recursive: true, force: true });
  }
});

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA (certificate and key files) made with openssl. */
async function makeCa(dir: string, name: string, cn = name): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`]);
  return { cert, key };
}

/** A server certificate (a new key each time) for `san` (e.g. IP:127.0.0.1), signed by `ca`: PEM texts. */
async function makeLeaf(dir: string, ca: { cert: string; key: string }, name: string, san: string): Promise<{ cert: string; key: string }> {
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  await run('openssl', ['req', ...EC, '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${name}`]);
  await writeFile(f('ext'), `subjectAltName=${san}\n`);
  await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', f('pem'), '-days', '2', '-extfile', f('ext')]);
  return { cert: await readFile(f('pem'), 'utf8'), key: await readFile(f('key'), 'utf8') };
}

const sha256Of = async (file: string) => new X509Certificate(await readFile(file, 'utf8')).fingerprint256.replaceAll(':', '').toLowerCase();

test('a CA pin accepts any certificate that CA signed for the address (a renewal too), and refuses another CA, another address, a chain without the CA', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-ca-pin-'));
  const servers: Server[] = [];
  const serve = async (leaf: { cert: string; key: string }, chainCa?: string) => {
    // What `cutover server --tls-ca` presents: its certificate, then the CA.
    const server = createServer({ cert: chainCa ? `${leaf.cert}${await readFile(chainCa, 'utf8')}` : leaf.cert, key: leaf.key }, (_req, res) => res.end('ok'));
    servers.push(server);
    return listen(server, 0, '127.0.0.1');
  };
  try {
    const ca = await makeCa(dir, 'ca');
    const other = await makeCa(dir, 'other-ca');
    const pin = pinnedDispatcher({ kind: 'ca', sha256: await sha256Of(ca.cert) });
    const leaf1 = await serve(await makeLeaf(dir, ca, 'leaf1', 'IP:127.0.0.1'), ca.cert);
    const leaf2 = await serve(await makeLeaf(dir, ca, 'leaf2', 'IP:127.0.0.1,DNS:cp.internal'), ca.cert);
    const foreign = await serve(await makeLeaf(dir, other, 'foreign', 'IP:127.0.0.1'), other.cert);
    // The other CA's leaf, sent with the pinned CA's certificate beside it: the CA is there, its signature is not.
    const forged = await serve(await makeLeaf(dir, other, 'forged', 'IP:127.0.0.1'), ca.cert);
    const elsewhere = await serve(await makeLeaf(dir, ca, 'elsewhere', 'IP:10.9.9.9'), ca.cert);
    const bare = await serve(await makeLeaf(dir, ca, 'bare', 'IP:127.0.0.1'));

    for (const port of [leaf1, leaf2]) assert.equal(await (await request(`https://127.0.0.1:${port}/`, { dispatcher: pin })).body.text(), 'ok');
    const refused = async (port: number, message: RegExp) =>
      assert.rejects(request(`https://127.0.0.1:${port}/`, { dispatcher: pin }), (e: unknown) => {
        assert.ok(e instanceof CutoverError && e.code === 'TLS_UNTRUSTED', String(e));
        assert.match(e.message, message);
        return true;
      });
    await refused(foreign, /presented no certificate chain to the CA the join token pins .*; nothing was sent/);
    await refused(bare, /presented no certificate chain to the CA the join token pins .*--tls-ca/);
    // OpenSSL links a chain by issuer name, so the CA sent beside a leaf it did not issue is not in it.
    await refused(forged, /presented no certificate chain to the CA the join token pins/);
    // An impostor CA with the pinned CA's very name: OpenSSL does not link it (key identifiers);
    // had it, checkPeer's own signature check would refuse it.
    const twin = await makeCa(dir, 'twin-ca', 'ca');
    const twinLeaf = await makeLeaf(dir, twin, 'twin', 'IP:127.0.0.1');
    await refused(await serve(twinLeaf, ca.cert), /presented no certificate chain to the CA|is not signed by the next one in its chain/);
    const caCert = new X509Certificate(await readFile(ca.cert, 'utf8'));
    assert.match(chainProblem([new X509Certificate(twinLeaf.cert), caCert], 1, Date.now()) ?? '', /CN=twin is not signed by the next one in its chain/);
    const renewed = new X509Certificate((await makeLeaf(dir, ca, 'renewed', 'IP:127.0.0.1')).cert);
    assert.equal(chainProblem([renewed, caCert], 1, Date.now()), undefined);
    assert.match(chainProblem([renewed, caCert], 1, Date.now() + 3 * 86_400_000) ?? '', /is not valid now/);
    await refused(elsewhere, /not trusted under the pinned CA .*IP: 127\.0\.0\.1 is not in the cert's list/);
    await pin.close();
  } finally {
    for (const s of servers) await closeServer(s);
    await rm(dir, { recursive: true, force: true });
  }
});

test('connectPinned resolves a socket only for the pinned server (the HTTP/2 session builds on it)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-connect-pinned-'));
  const servers: Server[] = [];
  try {
    const ca = await makeCa(dir, 'ca');
    const leaf = await makeLeaf(dir, ca, 'leaf', 'IP:127.0.0.1');
    const server = createServer({ cert: `${leaf.cert}${await readFile(ca.cert, 'utf8')}`, key: leaf.key }, (_req, res) => res.end('ok'));
    servers.push(server);
    const port = await listen(server, 0, '127.0.0.1');
    const socket = await connectPinned('127.0.0.1', port, { kind: 'ca', sha256: await sha256Of(ca.cert) }, ['http/1.1']);
    socket.destroy();
    const leafSha = new X509Certificate(leaf.cert).fingerprint256.replaceAll(':', '').toLowerCase();
    (await connectPinned('127.0.0.1', port, leafSha, ['http/1.1'])).destroy();
    await assert.rejects(connectPinned('127.0.0.1', port, 'ab'.repeat(32), ['http/1.1']), (e: unknown) => e instanceof CutoverError && e.code === 'TLS_UNTRUSTED');
  } finally {
    for (const s of servers) await closeServer(s);
    await rm(dir, { recursive: true, force: true });
  }
});
