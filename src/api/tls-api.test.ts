import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeHostCert, makeTestCerts, opensslFingerprint } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';

const DAY = 86_400_000;

test('TLS API: admin sets, viewers list without keys, bad pairs refused leaving the old one, remove, audit by fingerprint, rotation re-seals', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-tls-api-'));
  let ring = new Map([['k1', randomBytes(32)]]);
  let changes = 0;
  const h = await startHarness(Date.now(), { keyRing: () => ring, desiredStateChanged: () => void (changes += 1) });
  try {
    const { ca } = await makeTestCerts(dir);
    const read = async (c: { cert: string; key: string }) => ({ cert: await readFile(c.cert, 'utf8'), key: await readFile(c.key, 'utf8') });
    const shopFiles = await makeHostCert(dir, 'shop', ca, ['shop.example.com']);
    const shop = await read(shopFiles);
    const renewed = await read(await makeHostCert(dir, 'shop2', ca, ['shop.example.com'], { end: new Date(Date.now() + 5 * DAY) }));
    const expired = await read(await makeHostCert(dir, 'old', ca, ['shop.example.com'], { start: new Date(Date.now() - 9 * DAY), end: new Date(Date.now() - DAY) }));
    const answers: unknown[] = [];
    const call = async (...args: Parameters<typeof h.call>) => {
      const r = await h.call(...args);
      answers.push(r.body);
      return r;
    };

    assert.equal((await call('deployer', 'PUT', '/api/tls', { host: 'shop.example.com', ...shop })).status, 403);
    const set = await call('admin', 'PUT', '/api/tls', { host: 'shop.example.com', ...shop });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const fp = await opensslFingerprint(shopFiles.cert);
    assert.equal(set.body.certificate.fingerprint, fp);
    assert.equal(set.body.replaced, null);
    assert.equal(set.body.certificate.expiresSoon, false);
    assert.equal(changes, 1, 'the machines are told at once');

    const mismatched = await call('admin', 'PUT', '/api/tls', { host: 'shop.example.com', cert: renewed.cert, key: shop.key });
    assert.equal(mismatched.status, 400);
    assert.equal(mismatched.body.code, 'TLS_INVALID');
    assert.match(mismatched.body.message, /key does not match/);
    const old = await call('admin', 'PUT', '/api/tls', { host: 'shop.example.com', ...expired });
    assert.equal(old.body.code, 'TLS_INVALID');
    assert.match(old.body.message, /expired/);
    const uncovered = await call('admin', 'PUT', '/api/tls', { host: 'other.example.com', ...shop });
    assert.match(uncovered.body.message, /does not cover other\.example\.com/);
    assert.equal((await call('admin', 'PUT', '/api/tls', { host: 'Bad Host', ...shop })).body.code, 'VALIDATION_FAILED');
    assert.equal(changes, 1, 'refusals change nothing');

    let list = await call('viewer', 'GET', '/api/tls');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.certificates.map((c: { host: string; fingerprint: string }) => [c.host, c.fingerprint]), [['shop.example.com', fp]], 'the old pair kept');

    const replaced = await call('admin', 'PUT', '/api/tls', { host: 'shop.example.com', ...renewed, default: true });
    assert.equal(replaced.body.replaced, fp);
    list = await call('viewer', 'GET', '/api/tls');
    const [shown] = list.body.certificates;
    assert.equal(shown.isDefault, true);
    assert.equal(shown.expiresSoon, true, 'five days left');
    assert.ok(shown.daysLeft >= 4 && shown.daysLeft <= 5);

    assert.equal((await call('deployer', 'PUT', '/api/secrets', { environment: 'production', key: 'TOKEN', value: 'x' })).status, 200);
    ring = new Map([...ring, ['k2', randomBytes(32)]]);
    const rotated = await call('admin', 'POST', '/api/secrets/rotate-key', { to: 'k2' });
    assert.equal(rotated.body.certificates, 1, JSON.stringify(rotated.body));
    assert.equal((await h.store.getEdgeCertificate('shop.example.com'))!.key.keyId, 'k2');

    assert.equal((await call('viewer', 'DELETE', '/api/tls/shop.example.com')).status, 403);
    assert.equal((await call('admin', 'DELETE', '/api/tls/shop.example.com')).status, 200);
    assert.equal((await call('admin', 'DELETE', '/api/tls/shop.example.com')).status, 404);
    assert.deepEqual((await call('viewer', 'GET', '/api/tls')).body.certificates, []);

    const audit = await call('admin', 'GET', '/api/audit?limit=50');
    const tls = audit.body.items.filter((e: { action: string }) => e.action.startsWith('tls.'));
    assert.deepEqual(tls.map((e: { action: string }) => e.action), ['tls.remove', 'tls.set', 'tls.set']);
    assert.equal(tls[2].details.fingerprint, fp);
    const keyBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    for (const key of [shop.key, renewed.key, expired.key]) {
      for (const line of key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) {
        assert.ok(!JSON.stringify(answers).includes(line), 'no answer holds a key');
      }
      assert.ok(!JSON.stringify(await h.store.listAudit({ limit: 100 })).includes(keyBody(key).slice(0, 40)), 'no audit entry holds a key');
    }
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("an instance created, given other hosts or deleted pushes its machines' desired state at once (the certificates of its hosts with it)", async () => {
  let changes = 0;
  const h = await startHarness(Date.now(), { desiredStateChanged: () => void (changes += 1) });
  try {
    await h.release('1.0.0');
    assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'shop-a', app: 'shop', hosts: ['a.example.com'] })).status, 201);
    assert.equal(changes, 1);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/shop-a/hosts', { hosts: ['b.example.com'] })).status, 200);
    assert.equal(changes, 2);
    assert.equal((await h.call('viewer', 'PUT', '/api/instances/shop-a/hosts', { hosts: ['c.example.com'] })).status, 403);
    assert.equal(changes, 2, 'a refusal changes nothing');
    assert.equal((await h.call('admin', 'DELETE', '/api/instances/shop-a', {})).status, 200);
    assert.equal(changes, 3);
  } finally {
    await h.close();
  }
});

test('a key rotation before any app config re-seals the certificates and makes the new key the one later ones are sealed with', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-tls-rotate-'));
  let ring = new Map([['k1', randomBytes(32)]]);
  const h = await startHarness(Date.now(), { keyRing: () => ring });
  try {
    const { ca } = await makeTestCerts(dir);
    const pair = async (name: string, host: string) => {
      const c = await makeHostCert(dir, name, ca, [host]);
      return { host, cert: await readFile(c.cert, 'utf8'), key: await readFile(c.key, 'utf8') };
    };
    const nothing = await h.call('admin', 'POST', '/api/secrets/rotate-key', { to: 'k1' });
    assert.equal(nothing.status, 400);
    assert.match(nothing.body.message, /no app config and no TLS certificate/);
    assert.equal((await h.call('admin', 'PUT', '/api/tls', await pair('a', 'a.example.com'))).status, 200);

    ring = new Map([...ring, ['k2', randomBytes(32)]]);
    const rotated = await h.call('admin', 'POST', '/api/secrets/rotate-key', { to: 'k2' });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.deepEqual(rotated.body, { keyId: 'k2', versions: 0, secrets: 0, certificates: 1 });
    assert.equal((await h.store.getEdgeCertificate('a.example.com'))!.key.keyId, 'k2');

    // k1 retired: the next certificate is sealed with k2 (before, two keys and none active refused it).
    ring = new Map([['k2', ring.get('k2')!]]);
    assert.equal((await h.call('admin', 'PUT', '/api/tls', await pair('b', 'b.example.com'))).status, 200);
    assert.equal((await h.store.getEdgeCertificate('b.example.com'))!.key.keyId, 'k2');
    const audit = await h.call('admin', 'GET', '/api/audit?limit=10');
    assert.ok(audit.body.items.some((e: { action: string; details: { certificates?: number } }) => e.action === 'secret.rotate-key' && e.details.certificates === 1));
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});
