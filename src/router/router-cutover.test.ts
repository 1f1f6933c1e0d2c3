import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import { isCutoverError } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { send, startBlueGreen, startTestApp } from './test-app.ts';
import type { BlueGreen, TestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';

const HOST = 'shop.test';

describe('router cutover', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;
  let client: Pool;
  let bg: BlueGreen;

  beforeEach(async () => {
    bg = await startBlueGreen({
      router: { drainTimeoutMs: 2000, pauseTimeoutMs: 50, wsDrainTimeoutMs: 200 },
    });
    ({ router, port, blue, client } = bg);
  });

  afterEach(async () => {
    await bg.close();
  });

  async function get(path = '/'): Promise<{ status: number; version: string; body: string }> {
    const res = await client.request({ path, method: 'GET', headers: { host: HOST } });
    return {
      status: res.statusCode,
      version: String(res.headers['x-app-version']),
      body: await res.body.text(),
    };
  }

  function inFlight(color: Color): number | undefined {
    return router.state()[0]?.slots.find((s) => s.color === color)?.inFlight;
  }

  it('moves the next request to the new colour on a flip', async () => {
    assert.equal((await get()).body, '1.0.0');
    router.activate('shop', 'green');
    const after = await get();
    assert.equal(after.body, '2.0.0');
    assert.equal(after.version, '2.0.0');
    router.activate('shop', 'blue');
    assert.equal((await get()).version, '1.0.0');
    assert.equal(router.state()[0]?.active, 'blue');
  });

  it('lets a slow request on the old colour finish with the old version after the flip', async () => {
    const slow = get('/slow');
    await blue.slowWaiting(1);
    router.activate('shop', 'green');
    assert.equal((await get()).body, '2.0.0');
    assert.equal(inFlight('blue'), 1);
    blue.releaseSlow();
    const done = await slow;
    assert.equal(done.status, 200);
    assert.equal(done.body, 'slow:1.0.0');
    assert.equal(done.version, '1.0.0');
  });

  it('drainSlot waits for in-flight requests, then unregisters and closes the pool', async () => {
    const slow = get('/slow');
    await blue.slowWaiting(1);
    router.activate('shop', 'green');
    let drained = false;
    const drain = router.drainSlot('shop', 'blue').then(() => (drained = true));
    assert.deepEqual(
      router.state()[0]?.slots.map((s) => s.color),
      ['green'],
    );
    // A full round trip through the router while blue's request is still running.
    assert.equal((await get()).body, '2.0.0');
    assert.equal(drained, false);
    blue.releaseSlow();
    assert.equal((await slow).body, 'slow:1.0.0');
    await drain;
    // The pool is closed: the blue app has no connection left from the router.
    await waitFor('blue connections closed', async () => (await connectionCount(blue)) === 0);
    assert.throws(
      () => router.activate('shop', 'blue'),
      (e) => isCutoverError(e) && e.code === 'SLOT_NOT_FOUND',
    );
  });

  it('drainSlot cuts what is left after its timeout and answers 504', async () => {
    const slow = get('/slow');
    await blue.slowWaiting(1);
    router.activate('shop', 'green');
    await router.drainSlot('shop', 'blue', 100);
    const res = await slow;
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(res.body).code, 'GATEWAY_TIMEOUT');
  });

  it('drainSlot ends a non-WebSocket tunnel on the old colour with a FIN within the WebSocket window', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    await waitFor('101 head', () => received.includes('\r\n\r\n'));
    router.activate('shop', 'green');
    const ended = once(socket, 'end');
    const started = Date.now();
    await router.drainSlot('shop', 'blue', 100);
    // A FIN (orderly end), not a reset: the unknown protocol gets no close frame.
    await ended;
    assert.ok(Date.now() - started < 2000);
  });

  it('drainSlot refuses the active colour and an empty one', async () => {
    await assert.rejects(
      router.drainSlot('shop', 'blue'),
      (e) => isCutoverError(e) && e.code === 'SLOT_ACTIVE',
    );
    await router.drainSlot('shop', 'green');
    await assert.rejects(
      router.drainSlot('shop', 'green'),
      (e) => isCutoverError(e) && e.code === 'SLOT_NOT_FOUND',
    );
    await assert.rejects(
      router.drainSlot('nope', 'green'),
      (e) => isCutoverError(e) && e.code === 'INSTANCE_NOT_FOUND',
    );
    assert.equal((await get()).body, '1.0.0');
  });

  it('deactivate answers 503 (after the pause) until a colour is activated again', async () => {
    router.deactivate('shop');
    assert.equal((await get()).status, 503);
    router.activate('shop', 'green');
    assert.equal((await get()).body, '2.0.0');
  });

  it('replacing the active colour target switches at once and drains the old one', async () => {
    const blue2 = await startTestApp('1.0.1');
    try {
      const slow = get('/slow');
      await blue.slowWaiting(1);
      router.setSlot('shop', { color: 'blue', version: '1.0.1', port: blue2.port });
      assert.equal((await get()).body, '1.0.1');
      blue.releaseSlow();
      assert.equal((await slow).body, 'slow:1.0.0');
      await waitFor('old blue pool closed', async () => (await connectionCount(blue)) === 0);
      // Registering the same target again is a no-op (no new pool, no drain).
      router.setSlot('shop', { color: 'blue', version: '1.0.1', port: blue2.port });
      assert.equal((await get()).body, '1.0.1');
    } finally {
      await blue2.close();
    }
  });

  it('removeInstance stops routing its hosts at once and drains what is in flight', async () => {
    const slow = get('/slow');
    await blue.slowWaiting(1);
    let removed = false;
    const removing = router.removeInstance('shop').then(() => (removed = true));
    assert.equal((await get()).status, 404);
    assert.equal(removed, false);
    blue.releaseSlow();
    assert.equal((await slow).body, 'slow:1.0.0');
    await removing;
    assert.deepEqual(router.state(), []);
    // The hosts are free for another instance now.
    router.setInstance('shop2', [HOST]);
  });

  it('close() resolves for a router that never listened', async () => {
    const idle = createRouter();
    idle.setInstance('x', ['x.test']);
    idle.setSlot('x', { color: 'blue', version: '1', port: blue.port });
    await idle.close();
  });

  it('close() stops accepting and lets in-flight requests finish', async () => {
    const slow = get('/slow');
    await blue.slowWaiting(1);
    let closed = false;
    const closing = router.close().then(() => (closed = true));
    await assert.rejects(send(port, { headers: { host: HOST } }), /ECONNREFUSED/);
    assert.equal(closed, false);
    const released = Date.now();
    blue.releaseSlow();
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(res.body, 'slow:1.0.0');
    await closing;
    // The client's keep-alive connection was closed right after its response, not at its idle timeout.
    assert.ok(Date.now() - released < 1000, `close took ${Date.now() - released} ms after the last response`);
    await waitFor('pools closed', async () => (await connectionCount(blue)) === 0);
  });

  it('flips 200 times under load without a failed or misrouted request', async () => {
    const load = new Pool(`http://127.0.0.1:${port}`, { connections: 50 });
    const versions: Record<Color, string> = { blue: '1.0.0', green: '2.0.0' };
    let generation = 0;
    let active: Color = 'blue';
    const activeAt: Color[] = ['blue'];
    let stop = false;
    let ok = 0;
    let pinned = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (!stop) {
        const started = generation;
        try {
          const res = await load.request({ path: '/', method: 'GET', headers: { host: HOST } });
          const body = await res.body.text();
          const ended = generation;
          if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`);
          else if (res.headers['x-app-version'] !== body)
            failures.push(`header ${String(res.headers['x-app-version'])} for body ${body}`);
          else if (started === ended && body !== versions[activeAt[started] as Color]) {
            failures.push(
              `generation ${started} expects ${versions[activeAt[started] as Color]}, got ${body}`,
            );
          } else {
            ok++;
            if (started === ended) pinned++;
          }
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const workers = Array.from({ length: 50 }, worker);
    // A probe sent right after each flip (and answered before the next one) must see the new version.
    const probe = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    const deadline = Date.now() + 2000;
    for (let flip = 0; flip < 200; flip++) {
      await delay(Math.max(0, Math.min(10, (deadline - Date.now()) / (200 - flip))));
      active = active === 'blue' ? 'green' : 'blue';
      router.activate('shop', active);
      activeAt.push(active);
      generation++;
      const res = await probe.request({ path: '/', method: 'GET', headers: { host: HOST } });
      const body = await res.body.text();
      if (res.statusCode !== 200 || body !== versions[active])
        failures.push(`probe after flip ${flip}: ${res.statusCode} ${body}`);
    }
    stop = true;
    await Promise.all(workers);
    await Promise.all([load.close(), probe.close()]);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(ok > 1000, `only ${ok} requests completed`);
    // Requests that neither started nor ended across a flip were checked against their generation.
    assert.ok(pinned > 100, `only ${pinned} of ${ok} requests were checked against their generation`);
    assert.equal(inFlight('blue'), 0);
    assert.equal(inFlight('green'), 0);
  });
});

function connectionCount(app: TestApp): Promise<number> {
  return new Promise((resolve, reject) =>
    app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}
