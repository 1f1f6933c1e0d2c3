import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Pool } from 'undici';
import { isCutoverError } from '../shared/index.ts';
import type { Router } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen, TestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';

const HOST = 'shop.test';
const PAUSE_MS = 300;

describe('router pause and maintenance', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;
  let green: TestApp;
  let client: Pool;
  let bg: BlueGreen;

  beforeEach(async () => {
    bg = await startBlueGreen({ router: { pauseTimeoutMs: PAUSE_MS } });
    ({ router, port, blue, green, client } = bg);
  });

  afterEach(async () => {
    await bg.close();
  });

  function held(): number {
    return router.state()[0]?.held ?? -1;
  }

  it('holds requests while no colour is active and releases them on activation', async () => {
    router.deactivate('shop');
    const get = client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    const post = client.request({
      path: '/echo',
      method: 'POST',
      headers: { host: HOST },
      body: 'kept body',
    });
    await waitFor('two held requests', () => held() === 2);
    router.activate('shop', 'green');
    const [a, b] = await Promise.all([get, post]);
    assert.equal(a.statusCode, 200);
    assert.equal(await a.body.text(), '2.0.0');
    assert.equal(await b.body.text(), 'kept body');
    assert.equal(held(), 0);
  });

  it('answers 503 with Retry-After when nothing is activated within the pause', async () => {
    router.deactivate('shop');
    const started = Date.now();
    const res = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(((await res.body.json()) as { code: string }).code, 'NO_ACTIVE_SLOT');
    assert.ok(Date.now() - started >= PAUSE_MS - 20, 'held for the pause first');
  });

  it('forgets a held request whose client went away', async () => {
    router.deactivate('shop');
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor('the request held', () => held() === 1);
    req.destroy();
    await waitFor('the router to notice', () => held() === 0);
    const hits = green.hits;
    // A later request shows the abandoned one was not sent on.
    const later = client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    await waitFor('the next request held', () => held() === 1);
    router.activate('shop', 'green');
    assert.equal(await (await later).body.text(), '2.0.0');
    assert.equal(green.hits, hits + 1);
  });

  it('serves the maintenance page with 503 to every request, upgrades included', async () => {
    router.setMaintenance('shop', {});
    assert.equal(router.state()[0]?.maintenance, true);
    const res = await client.request({ path: '/anything', method: 'GET', headers: { host: HOST } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '30');
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(await res.body.text(), /maintenance/i);
    router.setMaintenance('shop', { html: '<h1>Back at noon</h1>', retryAfterSeconds: 120 });
    const custom = await client.request({ path: '/', method: 'HEAD', headers: { host: HOST } });
    assert.equal(custom.statusCode, 503);
    assert.equal(custom.headers['retry-after'], '120');
    await custom.body.dump();
    const page = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    assert.equal(await page.body.text(), '<h1>Back at noon</h1>');
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 503 /);
    assert.match(raw, /retry-after: 120\r\n/);
    assert.equal(blue.hits, 0);
    router.setMaintenance('shop', null);
    const back = await client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    assert.equal(await back.body.text(), '1.0.0');
  });

  it('answers held requests with the maintenance page when maintenance starts', async () => {
    router.deactivate('shop');
    const pending = client.request({ path: '/', method: 'GET', headers: { host: HOST } });
    await waitFor('the request held', () => held() === 1);
    router.setMaintenance('shop', { html: 'later' });
    const res = await pending;
    assert.equal(res.statusCode, 503);
    assert.equal(await res.body.text(), 'later');
    assert.throws(
      () => router.setMaintenance('shop', { retryAfterSeconds: -1 }),
      (e) => isCutoverError(e) && e.code === 'VALIDATION_FAILED',
    );
  });
});
