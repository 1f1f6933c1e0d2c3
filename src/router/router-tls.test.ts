// The router's TLS listener: SNI picks the certificate (exact, one-label wildcard, default), a set
// that does not load is refused whole, and a replaced set applies to new handshakes only.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isCutoverError } from '../shared/index.ts';
import { makeHostCert, makeTestCerts, opensslFingerprint } from '../testing/index.ts';
import { createRouter } from './index.ts';
import type { EdgeCertificate, Router } from './index.ts';
import { startTestApp } from './test-app.ts';
import type { TestApp } from './test-app.ts';
import { handshake, httpsGet } from './test-tls-client.ts';

interface Pair {
  cert: string;
  key: string;
  fingerprint: string;
  notAfter: Date;
}

async function pair(dir: string, name: string, ca: string, hosts: string[]): Promise<Pair> {
  const files = await makeHostCert(dir, name, ca, hosts);
  const [cert, key, fingerprint] = await Promise.all([
    readFile(files.cert, 'utf8'),
    readFile(files.key, 'utf8'),
    opensslFingerprint(files.cert),
  ]);
  const { X509Certificate } = await import('node:crypto');
  return { cert, key, fingerprint, notAfter: new X509Certificate(cert).validToDate };
}

describe('router TLS listener', () => {
  let dir: string;
  let ca: string;
  let shop: Pair;
  let blog: Pair;
  let fallback: Pair;
  let renewed: Pair;
  let app: TestApp;
  let router: Router;
  let port: number;

  const set = (...extra: EdgeCertificate[]): EdgeCertificate[] => [
    { hosts: ['shop.test'], cert: shop.cert, key: shop.key },
    { hosts: ['*.blog.test'], cert: blog.cert, key: blog.key },
    ...extra,
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-tls-'));
    ca = (await makeTestCerts(dir)).ca;
    [shop, blog, fallback, renewed] = await Promise.all([
      pair(dir, 'shop', ca, ['shop.test']),
      pair(dir, 'blog', ca, ['*.blog.test']),
      pair(dir, 'fallback', ca, ['fallback.test']),
      pair(dir, 'renewed', ca, ['shop.test']),
    ]);
    app = await startTestApp('1.0.0');
    router = createRouter({ pauseTimeoutMs: 0 });
    router.setInstance('shop', ['shop.test', 'a.blog.test']);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: app.port });
    router.activate('shop', 'blue');
    port = await router.listenTls(0, '127.0.0.1');
  });

  after(async () => {
    await router.close();
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses every handshake until it has certificates', async () => {
    assert.deepEqual(router.certificates(), []);
    const outcome = await handshake(port, 'shop.test');
    assert.ok('error' in outcome, 'a handshake without certificates must fail');
  });

  it('picks by SNI: exact host, one-label wildcard; refuses an unknown name when there is no default', async () => {
    router.setCertificates(set());
    const exact = await httpsGet(port, 'shop.test', { path: '/headers', ca: await readFile(ca, 'utf8') });
    assert.equal(exact.status, 200);
    assert.equal(exact.fingerprint, shop.fingerprint);
    const seen = (JSON.parse(exact.body) as { headers: Record<string, string> }).headers;
    assert.equal(seen['x-forwarded-proto'], 'https', 'requests over the TLS listener are forwarded as https');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');

    const wild = await httpsGet(port, 'a.blog.test');
    assert.equal(wild.status, 200);
    assert.equal(wild.fingerprint, blog.fingerprint);
    // A wildcard covers one label only; with no default, these are refused.
    for (const name of ['x.y.blog.test', 'blog.test', 'other.test', '']) {
      const outcome = await handshake(port, name);
      assert.ok('error' in outcome, `SNI "${name}" must be refused without a default certificate`);
    }
    // SNI is case-insensitive.
    const upper = await handshake(port, 'SHOP.Test');
    assert.ok('fingerprint' in upper && upper.fingerprint === shop.fingerprint);
  });

  it('serves the default for an unknown SNI and for none, and reports what it serves without keys', async () => {
    router.setCertificates(
      set({ hosts: ['fallback.test'], cert: fallback.cert, key: fallback.key, isDefault: true }),
    );
    for (const name of ['other.test', 'x.y.blog.test', '']) {
      const outcome = await handshake(port, name);
      assert.ok('fingerprint' in outcome, `SNI "${name}" gets the default`);
      assert.equal(outcome.fingerprint, fallback.fingerprint);
    }
    // The default does not take an exact host's place.
    const exact = await handshake(port, 'shop.test');
    assert.ok('fingerprint' in exact && exact.fingerprint === shop.fingerprint);
    const listed = router.certificates();
    assert.deepEqual(listed, [
      {
        hosts: ['shop.test'],
        fingerprint: shop.fingerprint,
        notAfter: shop.notAfter.toISOString(),
        isDefault: false,
      },
      {
        hosts: ['*.blog.test'],
        fingerprint: blog.fingerprint,
        notAfter: blog.notAfter.toISOString(),
        isDefault: false,
      },
      {
        hosts: ['fallback.test'],
        fingerprint: fallback.fingerprint,
        notAfter: fallback.notAfter.toISOString(),
        isDefault: true,
      },
    ]);
    assert.ok(!JSON.stringify(listed).includes('PRIVATE KEY'));
  });

  it('refuses a set with a mismatched pair, naming the host, and keeps serving the old one', async () => {
    const before = router.certificates();
    const bad = [
      [{ hosts: ['bad.test'], cert: shop.cert, key: blog.key }, /does not match its key/],
      [{ hosts: ['bad.test'], cert: 'not a certificate', key: shop.key }, /not a PEM certificate/],
      [{ hosts: ['bad.test'], cert: shop.cert, key: 'not a key' }, /not a PEM private key/],
      [{ hosts: ['Bad Host'], cert: shop.cert, key: shop.key }, /not a DNS name/],
      [{ hosts: ['shop.test'], cert: shop.cert, key: shop.key }, /given twice/],
      [{ hosts: ['bad.test'], cert: shop.cert, key: shop.key, isDefault: true }, /second default/],
    ] as const;
    for (const [cert, message] of bad) {
      const certs = set(
        { hosts: ['fallback.test'], cert: fallback.cert, key: fallback.key, isDefault: true },
        cert,
      );
      assert.throws(
        () => router.setCertificates(certs),
        (error: unknown) => {
          assert.ok(isCutoverError(error) && error.code === 'TLS_INVALID', String(error));
          assert.match(error.message, message);
          assert.match(error.message, /bad|shop|Bad Host/);
          assert.ok(
            !error.message.includes('PRIVATE KEY') && !JSON.stringify(error.details).includes('PRIVATE KEY'),
          );
          return true;
        },
      );
    }
    assert.deepEqual(router.certificates(), before);
    const still = await handshake(port, 'shop.test');
    assert.ok('fingerprint' in still && still.fingerprint === shop.fingerprint);
  });

  it('a replaced certificate serves new handshakes; a live connection keeps its own', async () => {
    router.setCertificates(set());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpsGet(port, 'shop.test', { agent });
      assert.equal(first.fingerprint, shop.fingerprint);
      router.setCertificates([
        { hosts: ['shop.test'], cert: renewed.cert, key: renewed.key },
        { hosts: ['*.blog.test'], cert: blog.cert, key: blog.key },
      ]);
      // Same keep-alive connection: the handshake it made stands.
      const again = await httpsGet(port, 'shop.test', { agent });
      assert.equal(again.status, 200);
      assert.equal(again.localPort, first.localPort, 'the keep-alive connection goes on');
      const fresh = await httpsGet(port, 'shop.test');
      assert.equal(fresh.fingerprint, renewed.fingerprint);
      assert.equal(router.certificates()[0]?.fingerprint, renewed.fingerprint);
    } finally {
      agent.destroy();
    }
  });

  it('replaces certificates under TLS load with zero failed requests', async () => {
    const sets = [
      [{ hosts: ['shop.test'], cert: shop.cert, key: shop.key }],
      [{ hosts: ['shop.test'], cert: renewed.cert, key: renewed.key }],
    ];
    router.setCertificates(sets[0]!);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let done = false;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    // Bounded loops: keep-alive requests on 4 connections, and a new handshake per request.
    const loop = async (fresh: boolean): Promise<void> => {
      for (let i = 0; i < 5000 && !done; i++) {
        try {
          const res = await httpsGet(port, 'shop.test', fresh ? {} : { agent });
          if (res.status !== 200 || res.body !== '1.0.0') failures.push(`status ${res.status}`);
          else ok++;
          if (fresh) seen.add(res.fingerprint);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = [loop(false), loop(false), loop(false), loop(false), loop(true), loop(true)];
    try {
      // Swap at each new handshake count, not on a timer: the loaded machine sets the pace.
      for (let swap = 1; swap <= 8; swap++) {
        const target = ok + 20;
        while (ok < target && failures.length === 0) await new Promise((resolve) => setImmediate(resolve));
        router.setCertificates(sets[swap % 2]!);
      }
    } finally {
      done = true;
      await Promise.all(loops);
      agent.destroy();
    }
    assert.deepEqual(failures, []);
    assert.ok(ok > 160, `${ok} requests`);
    assert.deepEqual([...seen].sort(), [shop.fingerprint, renewed.fingerprint].sort(), 'new handshakes saw both certificates');
    const last = await handshake(port, 'shop.test');
    assert.ok('fingerprint' in last && last.fingerprint === shop.fingerprint, 'the last set serves new handshakes');
  });
});
