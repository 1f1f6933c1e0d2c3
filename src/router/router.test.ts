import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { isCutoverError } from '../shared/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { deadPort, send, startTestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';
import type { TestApp } from './test-app.ts';

const HOST = 'shop.test';

describe('router proxying', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;
  let client: Pool;

  before(async () => {
    blue = await startTestApp('1.0.0');
    router = createRouter({ upstreamTimeoutMs: 300, pauseTimeoutMs: 50 });
    port = await router.listen(0, '127.0.0.1');
    router.setInstance('shop', [HOST, 'WWW.Shop.Test:8080']);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: blue.port, deploymentId: 'dep-1' });
    router.activate('shop', 'blue');
    client = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  });

  after(async () => {
    await client.close();
    await router.close();
    await blue.close();
  });

  it('proxies a GET and stamps the slot version', async () => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), '1.0.0');
    // The app's own x-app-version is replaced, never duplicated.
    assert.equal(res.headers['x-app-version'], '1.0.0');
    assert.equal(res.headers['x-deployment-id'], 'dep-1');
  });

  it('matches hosts case-insensitively and without the port', async () => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'www.SHOP.test:9999' } });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), '1.0.0');
  });

  it('streams a 5 MB POST body to the app and the echo back', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < payload.length; i += 256 * 1024) yield payload.subarray(i, i + 256 * 1024);
      })(),
    );
    const res = await client.request({ path: '/echo', method: 'POST', headers: { host: HOST }, body });
    assert.equal(res.statusCode, 200);
    const echoed = Buffer.from(await res.body.arrayBuffer());
    assert.equal(echoed.length, payload.length);
    assert.ok(echoed.equals(payload));
    // No content-length was sent, so the upstream saw a chunked body.
    assert.equal(blue.lastHeaders['transfer-encoding'], 'chunked');
  });

  it('streams a POST with content-length', async () => {
    const payload = randomBytes(1024 * 1024);
    const res = await send(port, { path: '/echo', method: 'POST', headers: { host: HOST }, body: payload });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(payload));
    assert.equal(blue.lastHeaders['content-length'], String(payload.length));
  });

  it('streams a 20 MB download intact', async () => {
    const bytes = 20 * 1024 * 1024;
    const res = await client.request({ path: `/big?bytes=${bytes}`, method: 'GET', headers: { host: HOST } });
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    assert.equal(length, bytes);
    assert.equal(hash.digest('hex'), createHash('sha256').update(Buffer.alloc(bytes, 120)).digest('hex'));
  });

  it('holds the app back while the client does not read (no response buffering)', async () => {
    const bytes = 96 * 1024 * 1024;
    const res = await client.request({ path: `/big?bytes=${bytes}`, method: 'GET', headers: { host: HOST } });
    await waitFor('the app to hit backpressure', () => blue.bigBlocked);
    // Proving a negative takes a little time: a proxy that buffered would pull the app dry here.
    await delay(300);
    assert.ok(blue.bigBlocked, 'the app stays blocked');
    assert.ok(
      blue.bigSent < 40 * 1024 * 1024,
      `the app wrote ${blue.bigSent} bytes for a client reading none`,
    );
    let length = 0;
    for await (const chunk of res.body) length += (chunk as Buffer).length;
    assert.equal(length, bytes);
  });

  it('adds x-forwarded-* and strips hop-by-hop request headers', async () => {
    const res = await send(port, {
      path: '/headers',
      headers: {
        host: 'Shop.Test:8080',
        connection: 'keep-alive, x-private',
        'x-private': 'drop me',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-connection': 'keep-alive',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-host': 'evil.test',
        'x-end-to-end': 'kept',
      },
    });
    assert.equal(res.status, 200);
    const seen = (JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers;
    assert.equal(seen.host, 'Shop.Test:8080');
    // No trusted proxies: the client's own X-Forwarded-* are replaced (trust: router-forwarded.test.ts).
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'Shop.Test:8080');
    assert.equal(seen['x-end-to-end'], 'kept');
    for (const gone of ['x-private', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) {
      assert.equal(seen[gone], undefined, `${gone} must not reach the app`);
    }
    // The upstream hop is HTTP/1.1, keep-alive by default: the client's Connection does not pass.
    assert.equal(seen.connection, undefined);
  });

  it('strips hop-by-hop response headers', async () => {
    const res = await send(port, { path: '/hop', headers: { host: HOST } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hop');
    assert.equal(res.headers['x-end-to-end'], 'kept');
    assert.equal(res.headers['x-hop-private'], undefined);
    assert.equal(res.headers['proxy-authenticate'], undefined);
    assert.equal(res.headers.trailer, undefined);
    assert.equal(res.headers['x-app-version'], '1.0.0');
  });

  it('answers HEAD and 204 without a body', async () => {
    const head = await send(port, { method: 'HEAD', headers: { host: HOST } });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['x-app-version'], '1.0.0');
    const noContent = await client.request({ path: '/204', method: 'GET', headers: { host: HOST } });
    assert.equal(noContent.statusCode, 204);
    assert.equal((await noContent.body.arrayBuffer()).byteLength, 0);
    // The keep-alive connection is still usable after both.
    const again = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    assert.equal(await again.body.text(), '1.0.0');
  });

  it('answers 404 JSON for an unknown host', async () => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'Nobody.test:81' } });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(await res.body.json(), {
      code: 'NOT_FOUND',
      message: 'no instance serves host "nobody.test"',
    });
  });

  it('answers 503 with retry-after when no colour is active (after the pause)', async () => {
    router.setInstance('idle', ['idle.test']);
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'idle.test' } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(((await res.body.json()) as { code: string }).code, 'NO_ACTIVE_SLOT');
    await router.removeInstance('idle');
  });

  it('answers 502 when the upstream is down', async () => {
    router.setInstance('down', ['down.test']);
    router.setSlot('down', { color: 'green', version: '9.9.9', port: await deadPort() });
    router.activate('down', 'green');
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'down.test' } });
    assert.equal(res.statusCode, 502);
    assert.equal(((await res.body.json()) as { code: string }).code, 'BAD_GATEWAY');
    await router.removeInstance('down');
  });

  it('retries a safe request once when the app drops the connection, never a POST', async () => {
    blue.dropNext = 1;
    const get = await client.request({ path: '/drop', method: 'GET', headers: { host: HOST } });
    assert.equal(get.statusCode, 200);
    assert.equal(await get.body.text(), '1.0.0');
    blue.dropNext = 2;
    const twice = await client.request({ path: '/drop', method: 'GET', headers: { host: HOST } });
    assert.equal(twice.statusCode, 502);
    await twice.body.dump();
    blue.dropNext = 1;
    const post = await client.request({ path: '/drop', method: 'POST', headers: { host: HOST }, body: 'x' });
    assert.equal(post.statusCode, 502);
    await post.body.dump();
    assert.equal(blue.dropNext, 0);
    await waitFor('in-flight back to 0', () => router.state()[0]?.slots[0]?.inFlight === 0);
  });

  it('answers 504 when the upstream sends no headers in time', async () => {
    const res = await client.request({ path: '/hang', method: 'GET', headers: { host: HOST } });
    assert.equal(res.statusCode, 504);
    assert.equal(((await res.body.json()) as { code: string }).code, 'GATEWAY_TIMEOUT');
    await waitFor('in-flight back to 0', () => router.state()[0]?.slots[0]?.inFlight === 0);
  });

  it('aborts the upstream request when the client goes away', async () => {
    const abortedBefore = blue.aborted;
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/slow',
      headers: { host: HOST },
      agent: false,
    });
    req.on('error', () => {});
    req.end();
    await blue.slowWaiting(1);
    assert.equal(router.state().find((i) => i.name === 'shop')?.slots[0]?.inFlight, 1);
    req.destroy();
    await waitFor('the app to see the abort', () => blue.aborted === abortedBefore + 1);
    await waitFor('in-flight back to 0', () => router.state().find((i) => i.name === 'shop')?.slots[0]?.inFlight === 0);
    blue.releaseSlow();
  });

  it('tunnels an upgrade and stamps the 101', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    await waitFor('101 head', () => received.includes('\r\n\r\n'));
    assert.match(received, /^HTTP\/1\.1 101 /);
    assert.match(received, /x-app-version: 1\.0\.0/i);
    assert.match(received, /upgrade: echo/i);
    assert.equal(router.state().find((i) => i.name === 'shop')?.slots[0]?.inFlight, 1);
    received = '';
    socket.write('ping through the tunnel');
    await waitFor('echo', () => received === 'ping through the tunnel');
    socket.destroy();
    await waitFor('tunnel released', () => router.state().find((i) => i.name === 'shop')?.slots[0]?.inFlight === 0);
  });

  it('refuses an upgrade for an unknown host with a 404', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /ws HTTP/1.1\r\nHost: nobody.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(text, /"code":"NOT_FOUND"/);
  });

  it('keeps host ownership exclusive and validates input', async () => {
    router.setInstance('other', ['other.test']);
    assert.throws(
      () => router.setInstance('other', ['shop.TEST']),
      (e) => isCutoverError(e) && e.code === 'HOST_IN_USE',
    );
    assert.deepEqual(router.state().find((i) => i.name === 'other')?.hosts, ['other.test']);
    assert.throws(
      () => router.activate('other', 'green'),
      (e) => isCutoverError(e) && e.code === 'SLOT_NOT_FOUND',
    );
    assert.throws(
      () => router.activate('ghost', 'green'),
      (e) => isCutoverError(e) && e.code === 'INSTANCE_NOT_FOUND',
    );
    assert.throws(
      () => router.setSlot('other', { color: 'blue', version: 'bad\r\nversion', port: 0 }),
      (e) =>
        isCutoverError(e) &&
        e.code === 'VALIDATION_FAILED' &&
        /version/.test(e.message) &&
        /port/.test(e.message),
    );
    // Moving a host between instances works once the first one lets it go.
    router.setInstance('other', ['moved.test']);
    router.setInstance('shop', [HOST, 'WWW.Shop.Test:8080', 'other.test']);
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'other.test' } });
    assert.equal(await res.body.text(), '1.0.0');
    await router.removeInstance('other');
    assert.deepEqual(
      router.state().map((i) => i.name),
      ['shop'],
    );
  });
});
