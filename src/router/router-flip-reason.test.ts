// Issue 12: what a flip promises to the colour it leaves. WebSockets after a forward flip stay for
// the skew grace, then get 1001 spread over wsDrainTimeout; after a rollback they get 1001 at once
// (spread the same way); never later than the slot's drain. A rollback also ends skew protection
// for the colour it left (M3), by header, cookie and `?dpl=`.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Pool } from 'undici';
import type { Router, RouterOptions } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen } from './test-app.ts';
import { waitFor } from '../testing/index.ts';
import { openWs, startWsRouter } from './test-ws-app.ts';
import type { TestWsApp, WsClient } from './test-ws-app.ts';

const WINDOW = 300;

describe('router flips: WebSockets of the colour left', () => {
  let router: Router;
  let url: string;
  let blue: TestWsApp;
  let green: TestWsApp;

  async function start(options: RouterOptions): Promise<void> {
    ({ router, url, blue, green } = await startWsRouter({
      drainTimeoutMs: 1000,
      wsDrainTimeoutMs: WINDOW,
      ...options,
    }));
  }

  afterEach(async () => {
    await router.close();
    await Promise.all([blue.close(), green.close()]);
  });

  async function open(n: number): Promise<WsClient[]> {
    const clients: WsClient[] = [];
    for (let i = 0; i < n; i++) clients.push(await openWs(url));
    return clients;
  }

  function closeTimes(clients: WsClient[]): number[] {
    const at: number[] = [];
    for (const c of clients) void c.closed.then(() => at.push(Date.now()));
    return at;
  }

  it('after a forward flip: open and served by the old colour during skewGrace, then 1001', async () => {
    const grace = 800;
    await start({ skewGraceMs: grace });
    const clients = await open(6);
    const flippedAt = Date.now();
    router.activate('chat', 'green');
    const at = closeTimes(clients);
    // Within the grace, the old release still answers on every socket.
    for (const c of clients) c.ws.send('still');
    await waitFor('echoes from 1.0.0', () => clients.every((c) => c.messages.includes('1.0.0:still')));
    const results = await Promise.all(clients.map((c) => c.closed));
    for (const r of results) assert.deepEqual(r, { code: 1001, wasClean: true });
    // Timers never fire early: no close before the grace ended.
    for (const t of at) assert.ok(t - flippedAt >= grace, `closed ${t - flippedAt} ms after the flip`);
    await waitFor('the app got 6 closes', () => blue.closeCodes.filter((c) => c === 1001).length === 6);
  });

  it('after a rollback: 1001 at once, spread over wsDrainTimeout, whatever the skew grace', async () => {
    await start({ skewGraceMs: 60_000 });
    router.activate('chat', 'green');
    const clients = await open(6);
    assert.equal(green.open, 6);
    const rolledBackAt = Date.now();
    router.activate('chat', 'blue', 'rollback');
    const at = closeTimes(clients);
    const results = await Promise.all(clients.map((c) => c.closed));
    for (const r of results) assert.deepEqual(r, { code: 1001, wasClean: true });
    const last = Math.max(...at) - rolledBackAt;
    assert.ok(last < WINDOW + 5000, `all closed ${last} ms after the rollback, not after the 60 s grace`);
  });

  it('a rollback within the grace keeps the WebSockets of the colour that serves again', async () => {
    await start({ skewGraceMs: 400 });
    const clients = await open(3);
    router.activate('chat', 'green');
    router.activate('chat', 'blue', 'rollback');
    await new Promise((resolve) => setTimeout(resolve, 400 + WINDOW + 300));
    for (const c of clients) c.ws.send('kept');
    await waitFor('echoes from 1.0.0', () => clients.every((c) => c.messages.includes('1.0.0:kept')));
    assert.equal(blue.open, 3);
  });

  it('never later than the slot is drained: a stop inside the grace closes them within the window', async () => {
    await start({ skewGraceMs: 60_000 });
    const clients = await open(4);
    router.activate('chat', 'green');
    const stoppedAt = Date.now();
    await router.drainSlot('chat', 'blue', 100);
    const results = await Promise.all(clients.map((c) => c.closed));
    for (const r of results) assert.deepEqual(r, { code: 1001, wasClean: true });
    assert.ok(Date.now() - stoppedAt < WINDOW + 6000);
  });

  it('a WebSocket opened on the old colour through skew protection goes when the grace ends', async () => {
    const grace = 600;
    await start({ skewGraceMs: grace });
    const flippedAt = Date.now();
    router.activate('chat', 'green');
    const old = await openWs(`${url}?dpl=d1`);
    old.ws.send('old');
    await waitFor('served by 1.0.0', () => old.messages.includes('1.0.0:old'));
    assert.deepEqual(await old.closed, { code: 1001, wasClean: true });
    assert.ok(Date.now() - flippedAt >= grace);
  });
});

describe('router flips: skew protection after a rollback (M3)', () => {
  let router: Router;
  let client: Pool;
  let bg: BlueGreen;

  afterEach(async () => {
    await bg.close();
  });

  async function version(headers: Record<string, string>, path = '/'): Promise<[string, string | undefined]> {
    const res = await client.request({ path, method: 'GET', headers: { host: 'shop.test', ...headers } });
    await res.body.text();
    return [res.headers['x-app-version'] as string, res.headers['x-cutover-reload'] as string | undefined];
  }

  it('the colour a rollback left is unreachable by header, cookie and ?dpl=, at once', async () => {
    bg = await startBlueGreen({
      router: { pauseTimeoutMs: 0, skewGraceMs: 300_000 },
      deploymentIds: true,
      connections: 2,
    });
    ({ router, client } = bg);
    // A forward flip keeps the previous colour for its clients (the documented skew protection).
    router.activate('shop', 'green');
    assert.deepEqual(await version({ 'x-deployment-id': 'd1' }), ['1.0.0', undefined]);
    // The rollback: d2's clients are told to reload and get 1.0.0, whichever way they say d2.
    router.activate('shop', 'blue', 'rollback');
    assert.deepEqual(await version({ 'x-deployment-id': 'd2' }), ['1.0.0', '1']);
    assert.deepEqual(await version({ cookie: 'cutover_dpl=d2' }), ['1.0.0', '1']);
    assert.deepEqual(await version({}, '/?dpl=d2'), ['1.0.0', '1']);
    assert.deepEqual(await version({}), ['1.0.0', undefined]);
  });
});
