import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeHostCert, makeTestCerts, opensslFingerprint } from '../testing/index.ts';
import { daysLeft, expiresSoon, hostProblem, inspectPair, nameCovers } from './index.ts';

const DAY = 86_400_000;

describe('inspectPair', () => {
  let dir: string;
  const pairs: Record<string, { cert: string; key: string; certFile: string }> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-edge-tls-'));
    const { ca } = await makeTestCerts(dir);
    const make = async (name: string, hosts: string[], dates?: { start?: Date; end?: Date }) => {
      const c = await makeHostCert(dir, name, ca, hosts, dates);
      pairs[name] = { cert: await readFile(c.cert, 'utf8'), key: await readFile(c.key, 'utf8'), certFile: c.cert };
    };
    await make('shop', ['shop.example.com', '*.shop.example.com']);
    await make('other', ['other.example.com']);
    await make('expired', ['old.example.com'], { start: new Date(Date.now() - 30 * DAY), end: new Date(Date.now() - DAY) });
    await make('future', ['new.example.com'], { start: new Date(Date.now() + 5 * DAY), end: new Date(Date.now() + 50 * DAY) });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads hosts, dates and the leaf fingerprint as openssl computes it', async () => {
    const facts = inspectPair(pairs.shop!, Date.now(), 'shop.example.com');
    assert.deepEqual(facts.hosts, ['shop.example.com', '*.shop.example.com']);
    assert.equal(facts.fingerprint, await opensslFingerprint(pairs.shop!.certFile));
    assert.ok(Date.parse(facts.notAfter) > Date.now() + 9 * DAY);
    assert.ok(Date.parse(facts.notBefore) < Date.now());
  });

  it('accepts a host the wildcard covers', () => {
    assert.doesNotThrow(() => inspectPair(pairs.shop!, Date.now(), 'eu.shop.example.com'));
  });

  const refused = (pair: { cert: string; key: string }, host: string | undefined, pattern: RegExp, now = Date.now()) => {
    assert.throws(() => inspectPair(pair, now, host), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TLS_INVALID');
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('PRIVATE KEY'), 'no key in the message');
      return true;
    });
  };

  it('refuses a key that does not match the certificate', () => refused({ cert: pairs.shop!.cert, key: pairs.other!.key }, undefined, /key does not match the certificate/));
  it('refuses an expired certificate, saying when it expired', () => refused(pairs.expired!, undefined, /expired on \d{4}-.*renew it/));
  it('refuses a certificate not valid yet', () => refused(pairs.future!, undefined, /not valid until/));
  it('refuses a host the certificate does not name, listing its names', () => refused(pairs.shop!, 'a.b.shop.example.com', /does not cover a\.b\.shop\.example\.com: it names shop\.example\.com, \*\.shop/));
  it('refuses a file that is not PEM, naming which', () => {
    refused({ cert: 'hello', key: pairs.shop!.key }, undefined, /certificate file holds no PEM certificate/);
    refused({ cert: pairs.shop!.cert, key: 'nope' }, undefined, /key file holds no PEM private key/);
    refused({ cert: pairs.shop!.cert, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, undefined, /not a readable/);
  });
  it('refuses the same pair once the clock passes its end', () => {
    refused(pairs.shop!, undefined, /expired/, Date.now() + 100 * DAY);
  });
});

describe('nameCovers', () => {
  it('matches exact names and one-label wildcards only', () => {
    assert.ok(nameCovers('shop.example.com', 'SHOP.example.com'));
    assert.ok(nameCovers('*.example.com', 'shop.example.com'));
    assert.ok(!nameCovers('*.example.com', 'example.com'));
    assert.ok(!nameCovers('*.example.com', 'a.shop.example.com'));
    assert.ok(!nameCovers('shop.example.com', '*.example.com'));
    assert.ok(nameCovers('*.example.com', '*.example.com'));
    assert.ok(!nameCovers('*.example.com', '.example.com'));
  });
});

describe('hostProblem', () => {
  it('accepts lowercase DNS names and a leading wildcard', () => {
    for (const h of ['shop.example.com', '*.example.com', 'localhost', 'a-b.c1']) assert.equal(hostProblem(h), undefined, h);
  });
  it('refuses the rest', () => {
    for (const h of ['', 'Shop.example.com', 'a..b', '-a.com', 'a.*.com', 'a b', `${'a'.repeat(64)}.com`]) assert.ok(hostProblem(h), h);
  });
});

describe('expiry', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('counts whole days left', () => {
    assert.equal(daysLeft('2026-01-15T12:00:00Z', now), 14);
    assert.equal(daysLeft('2025-12-31T00:00:00Z', now), -1);
  });
  it('warns within 14 days', () => {
    assert.ok(expiresSoon('2026-01-14T23:59:59Z', now));
    assert.ok(!expiresSoon('2026-01-15T00:00:00Z', now));
    assert.ok(expiresSoon('2025-12-01T00:00:00Z', now));
  });
});
