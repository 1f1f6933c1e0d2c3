import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Router } from './index.ts';
import { waitFor } from '../testing/index.ts';
import { openWs, startWsRouter } from './test-ws-app.ts';
import type { TestWsApp, WsClient } from './test-ws-app.ts';

describe('router WebSockets', () => {
  let router: Router;
  let url: string;
  let blue: TestWsApp;
  let green: TestWsApp;

  beforeEach(async () => {
    ({ router, url, blue, green } = await startWsRouter({ drainTimeoutMs: 1000, wsDrainTimeoutMs: 600 }));
  });

  afterEach(async () => {
    await router.close();
    await Promise.all([blue.close(), green.close()]);
  });

  it('relays messages both ways', async () => {
    const client = await openWs(url);
    client.ws.send('hi');
    await waitFor('echo', () => client.messages.includes('1.0.0:hi'));
    blue.broadcast('from the app');
    await waitFor('push', () => client.messages.includes('from the app'));
    client.ws.close(1000);
    assert.deepEqual(await client.closed, { code: 1000, wasClean: true });
    await waitFor('the app saw the close', () => blue.closeCodes.includes(1000));
  });

  it('closes WebSockets on a drained colour with 1001, spread over the window, never a reset', async () => {
    const clients: WsClient[] = [];
    for (let i = 0; i < 12; i++) clients.push(await openWs(url));
    assert.equal(blue.open, 12);
    router.activate('chat', 'green');
    const closedAt: number[] = [];
    for (const c of clients) void c.closed.then(() => closedAt.push(Date.now()));
    const started = Date.now();
    // Messages keep flowing while the drain runs: no close frame lands inside one of them.
    const chatter = setInterval(() => {
      blue.broadcast('x'.repeat(2000));
      for (const c of clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send('y'.repeat(3000));
    }, 5);
    try {
      await router.drainSlot('chat', 'blue', 100);
    } finally {
      clearInterval(chatter);
    }
    const results = await Promise.all(clients.map((c) => c.closed));
    for (const r of results) assert.deepEqual(r, { code: 1001, wasClean: true });
    // The router told the app, on the client's behalf, that each connection is going away.
    await waitFor('the app got 12 closes', () => blue.closeCodes.filter((c) => c === 1001).length === 12);
    const spread = Math.max(...closedAt) - Math.min(...closedAt);
    assert.ok(spread > 100, `closes spread over ${spread} ms`);
    assert.ok(Date.now() - started < 600 + 1500, 'all closed within the window');
    // Clients reconnecting land on the new colour.
    const again = await openWs(url);
    again.ws.send('back');
    await waitFor('echo from green', () => again.messages.includes('2.0.0:back'));
    again.ws.close();
    await again.closed;
  });

  it('closes WebSockets with 1001 when the router closes', async () => {
    const client = await openWs(url);
    await router.close();
    assert.deepEqual(await client.closed, { code: 1001, wasClean: true });
  });
});
