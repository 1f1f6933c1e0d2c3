import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { Pool } from 'undici';
import { cutover, freePort, manifest, portFlags, ports, startProcess, tempDir, waitFor } from './helpers.ts';
import { makeHostCert, makeTestCerts, opensslFingerprint } from './tls-certs.ts';
import { filesUnder, processesHolding } from '../src/testing/index.ts';

/**
 * TLS at the edge as a user runs it (issue 21), with `cutover up --https-port`: `tls set` for two
 * host names, each served by SNI; a mismatched and an expired pair refused while the old one
 * serves on; a certificate replaced under HTTPS load with zero failed requests; the watched file
 * pair renewed on disk and picked up; HSTS and the redirect through the agent's flags; a viewer
 * lists and cannot set; and no private key anywhere but where it belongs.
 */
const DAY = 86_400_000;
let data: Awaited<ReturnType<typeof tempDir>>;
let certs: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;
let https: number;
const started = performance.now();
const pems: Record<string, { cert: string; key: string; fingerprint: string }> = {};
const answers: string[] = [];

before(async () => {
  data = await tempDir('tls-edge');
  certs = await tempDir('tls-edge-certs');
  const { ca } = await makeTestCerts(certs.dir);
  const make = async (name: string, hosts: string[], dates: { start?: Date; end?: Date } = {}) => {
    const c = await makeHostCert(certs.dir, name, ca, hosts, dates);
    pems[name] = { cert: c.cert, key: c.key, fingerprint: await opensslFingerprint(c.cert) };
  };
  await Promise.all([
    make('a', ['a.test']),
    make('a2', ['a.test']),
    make('b', ['b.test'], { end: new Date(Date.now() + 5 * DAY) }),
    make('expired', ['a.test'], { start: new Date(Date.now() - 30 * DAY), end: new Date(Date.now() - DAY) }),
    make('file1', ['files.test']),
    make('file2', ['files.test']),
  ]);
  // The watched pair, where certbot's deploy hook would install it.
  await writeFile(join(certs.dir, 'fullchain.pem'), await readFile(pems.file1!.cert));
  await writeFile(join(certs.dir, 'privkey.pem'), await readFile(pems.file1!.key), { mode: 0o600 });
  const p = await ports();
  http = p.http;
  https = await freePort();
  const tlsFlags = ['--https-port', String(https), '--hsts', '--redirect-http', '--trusted-proxies', '127.0.0.2', '--tls-cert-file', join(certs.dir, 'fullchain.pem'), '--tls-key-file', join(certs.dir, 'privkey.pem')];
  // HSTS's max-age and includeSubDomains as settings in the environment `up` hands its agent.
  up = await startProcess(data.dir, ['up', ...portFlags(p), ...tlsFlags], { CUTOVER_HSTS_MAX_AGE: '5m', CUTOVER_HSTS_INCLUDE_SUB_DOMAINS: 'true' }, { logs: true });
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
  await certs?.cleanup();
  console.log(`# tls-edge e2e took ${Math.round(performance.now() - started)} ms`);
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await cutover(data.dir, args, env);
  answers.push(r.stdout, r.stderr);
  return r;
}

/** The fingerprint of the certificate the router presents for `servername` (a new handshake). */
function servedFingerprint(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: https, servername, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256.replaceAll(':', '').toLowerCase() ?? '';
      socket.end();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

/** One HTTPS request to `host` (SNI and Host), answering status and headers. */
function get(host: string, secure = true): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: secure ? https : http, path: '/api/version', headers: { host }, agent: false, servername: host, rejectUnauthorized: false };
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject).end();
  });
}

/** What the app was told about its client (`/api/forwarded`), asked over HTTPS from `localAddress` with the client's own X-Forwarded-*. */
function forwarded(localAddress: string, proto: string): Promise<{ for: string; proto: string; host: string }> {
  return new Promise((resolve, reject) => {
    const headers = { host: 'a.test', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': proto, 'x-forwarded-host': 'shop.example' };
    const req = httpsRequest({ host: '127.0.0.1', port: https, localAddress, path: '/api/forwarded', headers, agent: false, servername: 'a.test', rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`))));
    });
    req.on('error', reject).end();
  });
}

/** Keep-alive HTTPS clients to `a.test` until stopped; each new connection is a new handshake. */
function httpsLoad(connections = 8) {
  const pool = new Pool(`https://127.0.0.1:${https}`, { connections, connect: { servername: 'a.test', rejectUnauthorized: false } });
  const failed: string[] = [];
  let ok = 0;
  let running = true;
  const worker = async () => {
    while (running) {
      try {
        const res = await pool.request({ method: 'GET', path: '/api/version', headers: { host: 'a.test' } });
        await res.body.text();
        if (res.statusCode === 200) ok++;
        else failed.push(String(res.statusCode));
      } catch (error) {
        failed.push((error as Error).message);
      }
    }
  };
  const workers = Array.from({ length: connections }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      await pool.close();
      return { ok, failed };
    },
  };
}

test('certificates per host by SNI, refused pairs, a replacement under load, the watched pair, roles, and keys kept out of sight', async () => {
  const published = await cli(['release', 'publish', await manifest(data.dir, '1.0.0')]);
  assert.equal(published.code, 0, published.stderr + published.stdout);
  assert.equal((await cli(['instance', 'create', 'shop', '--app', 'hello', '--host', 'a.test', 'b.test', 'files.test'])).code, 0);
  const deployed = await cli(['deploy', 'shop', '1.0.0', '--wait']);
  assert.equal(deployed.json.status, 'succeeded', deployed.stdout);

  assert.equal(up.info.https, `https://127.0.0.1:${https}`);
  // Before any `tls set`: every name gets the watched pair, the default.
  assert.equal(await servedFingerprint('a.test'), pems.file1!.fingerprint);
  for (const name of ['a', 'b']) {
    const host = `${name}.test`;
    const set = await cli(['tls', 'set', host, '--cert-file', pems[name]!.cert, '--key-file', pems[name]!.key]);
    assert.equal(set.code, 0, set.stdout + set.stderr);
    assert.equal(set.json.certificate.fingerprint, pems[name]!.fingerprint);
  }
  // Pushed to the agent at once (not at the next sync), each host by SNI; the others keep the default.
  await waitFor('both certificates served by SNI', async () => (await servedFingerprint('a.test')) === pems.a!.fingerprint && (await servedFingerprint('b.test')) === pems.b!.fingerprint, 8000);
  assert.equal(await servedFingerprint('files.test'), pems.file1!.fingerprint);
  const secure = await get('a.test');
  assert.equal(secure.status, 200);
  assert.equal(secure.headers['strict-transport-security'], 'max-age=300; includeSubDomains', 'HSTS over HTTPS (--hsts, hstsMaxAge 5m, hstsIncludeSubDomains)');
  // --trusted-proxies 127.0.0.2: a client from there keeps its X-Forwarded-* (this hop appended); from 127.0.0.1 they are replaced.
  // (A trusted proxy saying `http` would be redirected to https: --redirect-http believes it.)
  assert.deepEqual(await forwarded('127.0.0.1', 'http'), { for: '127.0.0.1', proto: 'https', host: 'a.test' }, "an untrusted client's are replaced");
  assert.deepEqual(await forwarded('127.0.0.2', 'https'), { for: '203.0.113.7, 127.0.0.2', proto: 'https', host: 'shop.example' }, "a trusted proxy's are kept");
  await assert.rejects(forwarded('127.0.0.2', 'http'), /^Error: 308/, 'a trusted proxy that says http is sent to https');
  const plain = await get('a.test', false);
  assert.equal(plain.status, 308, '--redirect-http');
  assert.equal(plain.headers.location, `https://a.test:${https}/api/version`);
  const machine = up.info.machine as string;
  await waitFor('the agent acknowledged both', async () => {
    const list = await cli(['tls', 'list']);
    return list.json.certificates.every((c: { holding: string[] }) => c.holding.includes(machine)) && list.json.certificates.length === 2;
  });

  // Refused pairs change nothing: the old certificate serves on.
  const mismatched = await cli(['tls', 'set', 'a.test', '--cert-file', pems.a2!.cert, '--key-file', pems.a!.key]);
  assert.equal(mismatched.code, 2);
  assert.equal(mismatched.json.error.code, 'TLS_INVALID');
  assert.match(mismatched.json.error.message, /key does not match/);
  const expired = await cli(['tls', 'set', 'a.test', '--cert-file', pems.expired!.cert, '--key-file', pems.expired!.key]);
  assert.equal(expired.json.error.code, 'TLS_INVALID');
  assert.match(expired.json.error.message, /expired on/);
  assert.equal(await servedFingerprint('a.test'), pems.a!.fingerprint);

  // Replaced under HTTPS load: zero failed requests; new handshakes see the new certificate.
  const load = httpsLoad();
  await new Promise((r) => setTimeout(r, 300));
  const replaced = await cli(['tls', 'set', 'a.test', '--cert-file', pems.a2!.cert, '--key-file', pems.a2!.key]);
  assert.equal(replaced.json.replaced, pems.a!.fingerprint);
  await waitFor('new handshakes get the new certificate', async () => (await servedFingerprint('a.test')) === pems.a2!.fingerprint, 8000);
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.ok(result.ok > 20, `enough load (${result.ok} requests)`);

  // The watched pair renewed on disk, as a deploy hook installs it: picked up, nothing restarted.
  await writeFile(join(certs.dir, 'privkey.pem.new'), await readFile(pems.file2!.key), { mode: 0o600 });
  await writeFile(join(certs.dir, 'fullchain.pem'), await readFile(pems.file2!.cert));
  await rename(join(certs.dir, 'privkey.pem.new'), join(certs.dir, 'privkey.pem'));
  await waitFor('the renewed file pair served', async () => (await servedFingerprint('files.test')) === pems.file2!.fingerprint, 8000);
  assert.equal(await servedFingerprint('a.test'), pems.a2!.fingerprint, 'a server certificate keeps its host');

  // Expiry within 14 days shows in `status` and `tls list`.
  const status = await cli(['status']);
  assert.deepEqual(status.json.tlsExpiring.map((c: { host: string }) => c.host), ['b.test']);
  const listed = (await cli(['tls', 'list'])).json.certificates as { host: string; expiresSoon: boolean; daysLeft: number }[];
  assert.deepEqual(listed.map((c) => [c.host, c.expiresSoon]), [['a.test', false], ['b.test', true]]);

  // A viewer lists, and cannot set or remove.
  const token = await cli(['token', 'create', 'watcher', '--role', 'viewer']);
  const viewer = { CUTOVER_URL: up.info.api as string, CUTOVER_TOKEN: token.json.token as string };
  assert.equal((await cli(['tls', 'list'], viewer)).code, 0);
  assert.equal((await cli(['tls', 'set', 'b.test', '--cert-file', pems.b!.cert, '--key-file', pems.b!.key], viewer)).json.error.code, 'FORBIDDEN');
  assert.equal((await cli(['tls', 'remove', 'b.test'], viewer)).json.error.code, 'FORBIDDEN');
  const removed = await cli(['tls', 'remove', 'b.test']);
  assert.equal(removed.json.fingerprint, pems.b!.fingerprint);
  await waitFor('b.test falls back to the default', async () => (await servedFingerprint('b.test')) === pems.file2!.fingerprint, 8000);
  await cli(['audit', '--limit', '100']);

  // No private key in clear: answers, audit, logs, the data directory, any process's command line.
  const keyLines = await Promise.all(['a', 'a2', 'b', 'expired'].map(async (n) => (await readFile(pems[n]!.key, 'utf8')).split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))));
  const needles = keyLines.flat();
  assert.ok(needles.length >= 4);
  const logs = up.logs?.() ?? '';
  assert.ok(logs.includes('"level":20') || logs.includes('"level":30'), 'logs were captured');
  for (const needle of needles) {
    assert.ok(!answers.some((a) => a.includes(needle)), 'no CLI answer or audit entry holds a key');
    assert.ok(!logs.includes(needle), 'no log line holds a key');
  }
  for (const f of await filesUnder(data.dir)) {
    const bytes = await readFile(f);
    for (const needle of needles) assert.ok(!bytes.includes(Buffer.from(needle)), `${f} holds a key in clear`);
    assert.ok(!bytes.includes(Buffer.from('PRIVATE KEY-----')), `${f} holds a PEM key`);
  }
  for (const needle of needles) assert.deepEqual(await processesHolding(needle), [], 'no command line or environment holds a key');
});
