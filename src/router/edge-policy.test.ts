import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCutoverError } from '../shared/index.ts';
import { hstsValue, keepsHttp, redirectLocation } from './edge-policy.ts';
import { FORWARD_TLS, FORWARD_TRUSTED, RequestScan, scanRequestHeaders } from './headers.ts';
import { resolveRouterOptions } from './router-options.ts';

function forwarded(raw: string[], forwarding: number, ip = '10.0.0.5') {
  const scan = new RequestScan();
  const out = scanRequestHeaders(raw, ip, scan, forwarding);
  const value = (name: string) => {
    assert.equal(out.filter((field, i) => i % 2 === 0 && field === name).length, 1, `${name} once`);
    return out[out.indexOf(name) + 1];
  };
  return {
    for: value('x-forwarded-for'),
    proto: value('x-forwarded-proto'),
    host: value('x-forwarded-host'),
    scan,
    out,
  };
}

const CLIENT_SAYS = [
  'Host',
  'shop.test',
  'X-Forwarded-For',
  '203.0.113.7',
  'x-forwarded-for',
  '198.51.100.1',
  'X-Forwarded-Proto',
  'https',
  'X-Forwarded-Host',
  'www.shop.test',
];

describe('X-Forwarded-* by trust and listener', () => {
  it('an untrusted peer: its X-Forwarded-* are replaced by ours', () => {
    const plain = forwarded(CLIENT_SAYS, 0);
    assert.deepEqual([plain.for, plain.proto, plain.host], ['10.0.0.5', 'http', 'shop.test']);
    assert.equal(plain.scan.proto, 'http');
    const tls = forwarded(CLIENT_SAYS, FORWARD_TLS);
    assert.deepEqual([tls.for, tls.proto, tls.host], ['10.0.0.5', 'https', 'shop.test']);
    assert.equal(tls.scan.proto, 'https');
  });

  it('a trusted proxy: its X-Forwarded-* are kept, this hop appended to -For', () => {
    const kept = forwarded(CLIENT_SAYS, FORWARD_TRUSTED);
    assert.deepEqual(
      [kept.for, kept.proto, kept.host],
      ['203.0.113.7, 198.51.100.1, 10.0.0.5', 'https', 'www.shop.test'],
    );
    assert.equal(kept.scan.proto, 'https', 'a redirect must not loop behind a TLS-terminating proxy');
    // A trusted proxy that sent none gets ours.
    const none = forwarded(['Host', 'shop.test'], FORWARD_TRUSTED | FORWARD_TLS, '::ffff:10.0.0.5');
    assert.deepEqual([none.for, none.proto, none.host], ['10.0.0.5', 'https', 'shop.test']);
  });
});

describe('redirect and HSTS', () => {
  it('keeps the ready check and ACME challenges on HTTP, redirects everything else', () => {
    for (const url of [
      '/.well-known/cutover/ready',
      '/.well-known/cutover/ready?host=a',
      '/.well-known/acme-challenge/tok',
    ])
      assert.ok(keepsHttp(url), url);
    for (const url of [
      '/',
      '/a',
      '/.well-known/cutover/version',
      '/.well-known/cutover/readyx',
      '/.well-known/acme-challenge',
    ])
      assert.ok(!keepsHttp(url), url);
  });

  it('points at https on the same host, without the plain port, with the TLS port unless 443', () => {
    assert.equal(redirectLocation('Shop.Test:8080', '/a?b=1', 443), 'https://shop.test/a?b=1');
    assert.equal(redirectLocation('shop.test', '/', null), 'https://shop.test/');
    assert.equal(redirectLocation('shop.test:80', '/x', 8443), 'https://shop.test:8443/x');
    assert.equal(redirectLocation('[::1]:8080', '/', 8443), 'https://[::1]:8443/');
  });

  it('builds the Strict-Transport-Security value', () => {
    assert.equal(hstsValue(undefined), null);
    assert.equal(hstsValue(false), null);
    assert.equal(hstsValue(true), 'max-age=31536000');
    assert.equal(
      hstsValue({ maxAgeSeconds: 600, includeSubDomains: true }),
      'max-age=600; includeSubDomains',
    );
  });

  it('refuses bad edge options, naming each', () => {
    assert.throws(
      () =>
        resolveRouterOptions({
          trustedProxies: ['10.0.0.1/8', 'x'],
          hsts: { maxAgeSeconds: -1 },
          redirectHttp: 'yes' as unknown as boolean,
        }),
      (error: unknown) => {
        assert.ok(isCutoverError(error) && error.code === 'CONFIG_INVALID');
        for (const path of ['trustedProxies[0]', 'trustedProxies[1]', 'hsts.maxAgeSeconds', 'redirectHttp'])
          assert.ok(error.message.includes(path), `${path} in ${error.message}`);
        return true;
      },
    );
  });
});
