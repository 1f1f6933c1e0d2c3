// Issue 12: what the app receives. M2: a client's Connection header removes its own fields only,
// never Host, the framing or the router's X-Forwarded-*. L3: an absolute-form target reaches the
// app in origin-form, and one naming another host than Host is refused (RFC 9112 §3.2.2).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { startTestApp } from './test-app.ts';
import type { TestApp } from './test-app.ts';

const HOST = 'shop.test';

/** Sends raw bytes (a request with `Connection: close`), reads until the router closes the connection. */
async function raw(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  let out = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (out += d));
  socket.write(text);
  await once(socket, 'close');
  return out;
}

function bodyOf(response: string): { headers: Record<string, string | string[]>; rawHeaders: string[]; url: string } {
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  return JSON.parse(body) as never;
}

describe('router: what the app receives', () => {
  let router: Router;
  let port: number;
  let app: TestApp;

  before(async () => {
    app = await startTestApp('1.0.0');
    // The test client is a trusted proxy, so the X-Forwarded-For it sends is kept (and must stay).
    router = createRouter({ pauseTimeoutMs: 0, trustedProxies: ['127.0.0.1'] });
    port = await router.listen(0, '127.0.0.1');
    router.setInstance('shop', [HOST]);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: app.port });
    router.activate('shop', 'blue');
  });

  after(async () => {
    await router.close();
    await app.close();
  });

  it('M2: Connection nominations cannot remove Host, X-Forwarded-* or framing, only the client fields', async () => {
    const response = await raw(
      port,
      `POST /headers HTTP/1.1\r\nHost: ${HOST}\r\nX-Forwarded-For: 1.2.3.4\r\nX-Custom: drop-me\r\nX-Kept: yes\r\n` +
        'Content-Length: 2\r\n' +
        'Connection: close, x-forwarded-for, x-forwarded-proto, x-forwarded-host, host, content-length, transfer-encoding, x-custom\r\n\r\nhi',
    );
    assert.match(response, /^HTTP\/1\.1 200/);
    const seen = bodyOf(response).headers;
    assert.equal(seen.host, HOST);
    assert.equal(seen['x-forwarded-for'], '1.2.3.4, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], HOST);
    assert.equal(seen['content-length'], '2');
    assert.equal(seen['x-custom'], undefined, 'a client field it nominated is removed');
    assert.equal(seen['x-kept'], 'yes');
  });

  it('M2: the app cannot remove the router version headers with its own Connection header', async () => {
    const response = await raw(port, `GET /hop HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    // /hop answers `Connection: keep-alive, x-hop-private, x-app-version, x-deployment-id`.
    assert.match(response, /\r\nx-app-version: 1\.0\.0\r\n/i);
    assert.doesNotMatch(response, /x-hop-private: secret/i, 'its own nominated field is removed');
  });

  it('L3: an absolute-form target reaches the app in origin-form', async () => {
    const response = await raw(
      port,
      `GET http://${HOST}/headers?x=1 HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.equal(bodyOf(response).url, '/headers?x=1');
  });

  it('L3: an authority that is not the Host is refused with 400 and never reaches the app', async () => {
    const hits = app.hits;
    const response = await raw(
      port,
      `GET http://evil.example/headers HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 400/);
    assert.match(response, /another host than the Host header/);
    const upgrade = await raw(
      port,
      `GET http://evil.example/socket HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(upgrade, /^HTTP\/1\.1 400/);
    assert.equal(app.hits, hits);
  });
});
