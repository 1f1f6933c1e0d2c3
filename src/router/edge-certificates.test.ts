import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeHostCert, makeTestCerts } from '../testing/index.ts';
import { loadCertificates, pickCertificate } from './edge-certificates.ts';
import type { CertificateTable } from './edge-certificates.ts';

const table = (fallback: string | null): CertificateTable<string> => ({
  exact: new Map([
    ['shop.test', 'shop'],
    ['a.blog.test', 'a-blog'],
  ]),
  wildcard: new Map([['blog.test', 'wild-blog']]),
  fallback,
  all: [],
});

describe('SNI choice', () => {
  it('exact, then a one-label wildcard, then the default', () => {
    const t = table('default');
    assert.equal(pickCertificate(t, 'shop.test'), 'shop');
    assert.equal(pickCertificate(t, 'a.blog.test'), 'a-blog', 'an exact name beats the wildcard');
    assert.equal(pickCertificate(t, 'b.blog.test'), 'wild-blog');
    assert.equal(pickCertificate(t, 'x.b.blog.test'), 'default', 'a wildcard covers one label only');
    assert.equal(pickCertificate(t, 'blog.test'), 'default', 'nor the bare domain');
    assert.equal(pickCertificate(t, 'other.test'), 'default');
    assert.equal(pickCertificate(t, undefined), 'default');
    assert.equal(pickCertificate(t, false), 'default');
    assert.equal(pickCertificate(t, ''), 'default');
  });

  it('ignores case and a trailing dot; nothing without a default', () => {
    const t = table(null);
    assert.equal(pickCertificate(t, 'SHOP.Test.'), 'shop');
    assert.equal(pickCertificate(t, 'B.BLOG.TEST'), 'wild-blog');
    assert.equal(pickCertificate(t, 'other.test'), null);
    assert.equal(pickCertificate(t, undefined), null);
  });
});

describe('loading a set', () => {
  it('keeps the context of a pair it already holds, builds one for a new pair', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-certs-'));
    try {
      const { ca } = await makeTestCerts(dir);
      const a = await makeHostCert(dir, 'a', ca, ['a.test']);
      const b = await makeHostCert(dir, 'b', ca, ['b.test']);
      const pem = async (f: { cert: string; key: string }) => ({
        cert: await readFile(f.cert, 'utf8'),
        key: await readFile(f.key, 'utf8'),
      });
      const [pa, pb] = [await pem(a), await pem(b)];
      const first = loadCertificates([{ hosts: ['a.test'], ...pa }]);
      const second = loadCertificates(
        [
          { hosts: ['a.test', 'www.a.test'], ...pa, isDefault: true },
          { hosts: ['b.test'], ...pb },
        ],
        first,
      );
      assert.equal(second.all[0]?.context, first.all[0]?.context, 'the same pair keeps its context');
      assert.deepEqual(second.all[0]?.info.hosts, ['a.test', 'www.a.test'], 'with the hosts it is given now');
      assert.equal(second.fallback, second.all[0]);
      assert.equal(pickCertificate(second, 'www.a.test'), second.all[0]);
      assert.notEqual(second.all[1]?.context, undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
