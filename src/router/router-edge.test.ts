// Issue 21, the router at the edge over loopback: redirect to HTTPS (the ready check and ACME
// challenges excepted), HSTS on the TLS listener only, trusted and untrusted proxies'
// X-Forwarded-*, and a WebSocket through the TLS listener.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, WebSocket } from 'undici';
import { makeHostCert, makeTestCerts } from '../testing/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { startTestApp } from './test-app.ts';
import type { TestApp } from './test-app.ts';
import { httpsGet } from './test-tls-client.ts';
import { startTestWsApp } from './test-ws-app.ts';
import type { TestWsApp } from './test-ws-app.ts';

const TRUSTED = '127.0.0.2';
const HSTS = 'max-age=600; includeSubDomains';

interface Plain {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A plain HTTP request to the router from `localAddress` (127.0.0.1: untrusted; 127.0.0.2: the trusted proxy). */
function plain(
  port: number,
  options: { path?: string; method?: string; headers?: Record<string, string>; from?: string; body?: string },
): Promise<Plain> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress: options.from ?? '127.0.0.1',
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: { host: 'shop.test', ...options.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const seenBy = (body: string) => (JSON.parse(body) as { headers: Record<string, string> }).headers;

describe('router at the edge: redirect, HSTS, trusted proxies, WebSocket over TLS', () => {
  let dir: string;
  let caPem: string;
  let app: TestApp;
  let wsApp: TestWsApp;
  let router: Router;
  let httpPort: number;
  let tlsPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-edge-'));
    const certs = await makeTestCerts(dir);
    const shop = await makeHostCert(dir, 'shop', certs.ca, ['shop.test']);
    caPem = await readFile(certs.ca, 'utf8');
    [app, wsApp] = await Promise.all([startTestApp('1.0.0'), startTestWsApp('1.0.0')]);
    router = createRouter({
      pauseTimeoutMs: 0,
      trustedProxies: [`${TRUSTED}/32`, 'fd00::/8'],
      redirectHttp: true,
      hsts: { maxAgeSeconds: 600, includeSubDomains: true },
    });
    router.setInstance('shop', ['shop.test']);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: app.port });
    router.activate('shop', 'blue');
    router.setInstance('chat', ['127.0.0.1']);
    router.setSlot('chat', { color: 'blue', version: '1.0.0', port: wsApp.port });
    router.activate('chat', 'blue');
    router.setCertificates([
      {
        hosts: ['shop.test'],
        cert: await readFile(shop.cert, 'utf8'),
        key: await readFile(shop.key, 'utf8'),
      },
      // IP-address clients send no SNI: the default (its certificate names 127.0.0.1) serves them.
      {
        hosts: [],
        cert: await readFile(certs.cert, 'utf8'),
        key: await readFile(certs.key, 'utf8'),
        isDefault: true,
      },
    ]);
    httpPort = await router.listen(0, '127.0.0.1');
    tlsPort = await router.listenTls(0, '127.0.0.1');
  });

  after(async () => {
    await router.close();
    await Promise.all([app.close(), wsApp.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers plain HTTP with 308 to https, keeping the path, without HSTS', async () => {
    const res = await plain(httpPort, { path: '/a/b?c=1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://shop.test:${tlsPort}/a/b?c=1`);
    assert.equal(res.headers['strict-transport-security'], undefined, 'never HSTS over plain HTTP');
    const post = await plain(httpPort, { path: '/upload', method: 'POST', body: 'x'.repeat(100) });
    assert.equal(post.status, 308, 'a POST keeps its method through 308');
    assert.equal(post.headers.connection, 'close', 'its unread body ends the connection');
    // An unknown host is not redirected anywhere.
    assert.equal((await plain(httpPort, { headers: { host: 'other.test' } })).status, 404);
  });

  it('keeps the ready check and ACME challenges on plain HTTP', async () => {
    const ready = await plain(httpPort, { path: '/.well-known/cutover/ready' });
    assert.equal(ready.status, 200);
    const acme = await plain(httpPort, { path: '/.well-known/acme-challenge/token-1' });
    // The test app answers unknown paths 404: the challenge reached it.
    assert.equal(acme.status, 404);
    assert.equal(acme.headers['x-app-version'], '1.0.0');
  });

  it('adds HSTS to every response of the TLS listener, its own errors included', async () => {
    const ok = await httpsGet(tlsPort, 'shop.test', { ca: caPem });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '1.0.0');
    assert.equal(ok.headers['strict-transport-security'], HSTS);
    const unknown = await httpsGet(tlsPort, 'shop.test', { ca: caPem, host: 'other.test' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['strict-transport-security'], HSTS);
  });

  it('replaces an untrusted client’s X-Forwarded-*, over TLS and (when not redirected) plain', async () => {
    const lies = {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
    };
    const tls = await httpsGet(tlsPort, 'shop.test', { ca: caPem, path: '/headers', headers: lies });
    assert.deepEqual(
      [
        seenBy(tls.body)['x-forwarded-for'],
        seenBy(tls.body)['x-forwarded-proto'],
        seenBy(tls.body)['x-forwarded-host'],
      ],
      ['127.0.0.1', 'https', 'shop.test'],
    );
    // Its claim of https is not believed: it is redirected.
    assert.equal((await plain(httpPort, { path: '/headers', headers: lies })).status, 308);
  });

  it('keeps a trusted proxy’s X-Forwarded-* (this hop appended) and does not redirect what it says was https', async () => {
    const res = await plain(httpPort, {
      path: '/headers',
      from: TRUSTED,
      headers: {
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'www.shop.test',
      },
    });
    assert.equal(res.status, 200);
    const seen = seenBy(res.body);
    assert.deepEqual(
      [seen['x-forwarded-for'], seen['x-forwarded-proto'], seen['x-forwarded-host']],
      [`203.0.113.7, ${TRUSTED}`, 'https', 'www.shop.test'],
    );
    // The same proxy forwarding plain HTTP is redirected like anyone.
    const http = await plain(httpPort, {
      path: '/headers',
      from: TRUSTED,
      headers: { 'x-forwarded-proto': 'http' },
    });
    assert.equal(http.status, 308);
  });

  it('carries a WebSocket over the TLS listener', async () => {
    const dispatcher = new Agent({ connect: { ca: caPem } });
    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/socket`, { dispatcher });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve());
        ws.addEventListener('error', () => reject(new Error('the WebSocket over TLS did not open')));
      });
      const message = new Promise<string>((resolve) =>
        ws.addEventListener('message', (e) => resolve(String(e.data))),
      );
      ws.send('hello');
      assert.equal(await message, '1.0.0:hello');
    } finally {
      const closed = new Promise((resolve) => ws.addEventListener('close', resolve));
      ws.close(1000);
      await closed;
      await dispatcher.close();
    }
  });
});
