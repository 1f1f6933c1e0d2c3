// Issue 21 (optional part): PROXY protocol v1/v2 per listener, only from trusted proxies.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { isCutoverError } from '../shared/index.ts';
import { makeTestCerts } from '../testing/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { startTestApp } from './test-app.ts';
import type { TestApp } from './test-app.ts';
import { proxyV1, proxyV2 } from './test-proxy-header.ts';

const BALANCER = '127.0.0.2';
const REQUEST =
  'GET /headers HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close\r\n\r\n';

/** Writes `bytes` in one write from `from`, reads until the router closes; '' when it closed at once. */
async function exchange(
  port: number,
  from: string,
  bytes: Buffer,
  tls = false,
  later?: Buffer,
): Promise<string> {
  const raw = connect({ host: '127.0.0.1', port, localAddress: from });
  raw.on('error', () => {});
  await once(raw, 'connect');
  let socket: Socket = raw;
  if (tls) {
    // The header goes in clear, then TLS on the same connection.
    raw.write(bytes);
    const secure = tlsConnect({ socket: raw, servername: 'shop.test', rejectUnauthorized: false });
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    secure.write(REQUEST);
    socket = secure;
  } else raw.write(bytes);
  if (later !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    raw.write(later);
  }
  let out = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (out += d));
  await once(socket, 'close');
  return out;
}

function forwardedFor(response: string): Record<string, string> {
  assert.match(response, /^HTTP\/1\.1 200/, response.slice(0, 200));
  return (JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> })
    .headers;
}

describe('router: PROXY protocol listeners', { timeout: 20_000 }, () => {
  let dir: string;
  let app: TestApp;
  let router: Router;
  let plainPort: number;
  let tlsPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-proxy-'));
    const certs = await makeTestCerts(dir);
    app = await startTestApp('1.0.0');
    router = createRouter({ pauseTimeoutMs: 0, trustedProxies: [BALANCER] });
    router.setInstance('shop', ['shop.test']);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: app.port });
    router.activate('shop', 'blue');
    router.setCertificates([
      {
        hosts: [],
        cert: await readFile(certs.cert, 'utf8'),
        key: await readFile(certs.key, 'utf8'),
        isDefault: true,
      },
    ]);
    plainPort = await router.listen(0, '127.0.0.1', { proxyProtocol: true });
    tlsPort = await router.listenTls(0, '127.0.0.1', { proxyProtocol: true });
  });

  after(async () => {
    await router.close();
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('v1 on the plain listener: the header names the client, the request in the same segment is served', async () => {
    const seen = forwardedFor(
      await exchange(
        plainPort,
        BALANCER,
        Buffer.concat([proxyV1('203.0.113.9', '10.0.0.1', 50000, 80), Buffer.from(REQUEST)]),
      ),
    );
    // The client named by the header is not a trusted proxy: its X-Forwarded-For is replaced.
    assert.equal(seen['x-forwarded-for'], '203.0.113.9');
    assert.equal(seen['x-forwarded-proto'], 'http');
    // The header alone first, the request in a later segment.
    const split = await exchange(
      plainPort,
      BALANCER,
      proxyV2('203.0.113.10', '10.0.0.1', 50000, 80),
      false,
      Buffer.from(REQUEST),
    );
    assert.equal(forwardedFor(split)['x-forwarded-for'], '203.0.113.10');
  });

  it('v2 on the TLS listener (TLS passed through by the balancer)', async () => {
    const seen = forwardedFor(
      await exchange(tlsPort, BALANCER, proxyV2('2001:db8::7', 'fd00::1', 50000, 443), true),
    );
    assert.equal(seen['x-forwarded-for'], '2001:db8:0:0:0:0:0:7');
    assert.equal(seen['x-forwarded-proto'], 'https');
  });

  it('v2 LOCAL: the balancer speaks for itself, and is trusted', async () => {
    const local = proxyV2('0.0.0.0', '0.0.0.0', 0, 0, { local: true });
    const seen = forwardedFor(
      await exchange(plainPort, BALANCER, Buffer.concat([local, Buffer.from(REQUEST)])),
    );
    assert.equal(seen['x-forwarded-for'], `198.51.100.1, ${BALANCER}`);
  });

  it('closes a connection from an untrusted peer, or one without a header', async () => {
    const header = proxyV1('203.0.113.9', '10.0.0.1', 50000, 80);
    assert.equal(await exchange(plainPort, '127.0.0.1', Buffer.concat([header, Buffer.from(REQUEST)])), '');
    assert.equal(await exchange(plainPort, BALANCER, Buffer.from(REQUEST)), '');
    assert.equal(
      await exchange(plainPort, BALANCER, Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n')),
      '',
    );
    assert.equal(app.lastHeaders['x-forwarded-for'] === '1.2.3.4', false);
  });

  it('refuses a PROXY protocol listener without trusted proxies', async () => {
    const bare = createRouter();
    try {
      await assert.rejects(
        bare.listen(0, '127.0.0.1', { proxyProtocol: true }),
        (error: unknown) =>
          isCutoverError(error) && error.code === 'CONFIG_INVALID' && /trustedProxies/.test(error.message),
      );
    } finally {
      await bare.close();
    }
  });
});
