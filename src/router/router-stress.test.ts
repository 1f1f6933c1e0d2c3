import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Color } from '../shared/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { waitFor } from '../testing/index.ts';
import { openWs, startTestWsApp } from './test-ws-app.ts';
import type { TestWsApp, WsClient } from './test-ws-app.ts';

const HOST = '127.0.0.1';
const FLIPS = 1000;
const HTTP_CLIENTS = 16;
const WEBSOCKETS = 20;
const STREAMS = 5;
/** Event streams on the app (not the router's version stream): drains end them, clients reconnect. */
const APP_STREAMS = 6;

describe('router under churn', () => {
  let router: Router;
  let port: number;
  const apps: Partial<Record<Color, TestWsApp>> = {};

  before(async () => {
    [apps.blue, apps.green] = await Promise.all([startTestWsApp('1.0.0'), startTestWsApp('2.0.0')]);
    // A short skew grace, so forward flips close WebSockets too (after it), besides rollbacks and drains.
    router = createRouter({ drainTimeoutMs: 2000, wsDrainTimeoutMs: 300, pauseTimeoutMs: 2000, skewGraceMs: 100 });
    port = await router.listen(0, '127.0.0.1');
    router.setInstance('shop', [HOST]);
    for (const color of ['blue', 'green'] as const) register(color);
    router.activate('shop', 'blue');
  });

  after(async () => {
    await router.close();
    await Promise.all([apps.blue?.close(), apps.green?.close()]);
  });

  function register(color: Color): void {
    const app = apps[color] as TestWsApp;
    router.setSlot('shop', {
      color,
      version: app.version,
      port: app.port,
      deploymentId: `${color}-${app.version}`,
    });
  }

  it(`survives ${FLIPS} flips and shifts under HTTP, WebSocket and SSE load without a failure`, async (t) => {
    const failures: string[] = [];
    let stop = false;
    let ok = 0;

    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: HTTP_CLIENTS });
    const worker = async (n: number): Promise<void> => {
      // Half the clients keep cookies (so shifts pin them), half never do.
      let cookie = '';
      while (!stop) {
        try {
          const headers: Record<string, string> = { host: HOST };
          if (cookie !== '') headers.cookie = cookie;
          const res = await pool.request({ path: '/', method: 'GET', headers });
          const body = await res.body.text();
          const set = res.headers['set-cookie'];
          if (n % 2 === 0 && typeof set === 'string') cookie = set.split(';')[0] as string;
          if (res.statusCode !== 200) failures.push(`status ${res.statusCode}: ${body}`);
          else if (res.headers['x-app-version'] !== body)
            failures.push(`version header ${String(res.headers['x-app-version'])} for ${body}`);
          else ok++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const workers = Array.from({ length: HTTP_CLIENTS }, (_, n) => worker(n));

    // WebSockets: every close the router causes must be a clean 1001; clients reconnect.
    const closes: { code: number; wasClean: boolean }[] = [];
    const sockets = new Set<WsClient>();
    const openOne = async (): Promise<void> => {
      const client = await openWs(`ws://127.0.0.1:${port}/socket`);
      sockets.add(client);
      void client.closed.then((result) => {
        sockets.delete(client);
        if (stop) return;
        closes.push(result);
        openOne().catch((err: Error) => failures.push(`reconnect: ${err.message}`));
      });
    };
    for (let i = 0; i < WEBSOCKETS; i++) await openOne();
    const chatter = setInterval(() => {
      for (const s of sockets) if (s.ws.readyState === WebSocket.OPEN) s.ws.send('ping');
    }, 20);

    // Version streams must stay open and hear about the flips.
    const streamTexts: string[] = [];
    const streamEnded: boolean[] = [];
    const streams = Array.from({ length: STREAMS }, (_, i) => {
      streamTexts[i] = '';
      streamEnded[i] = false;
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/.well-known/cutover/version',
        headers: { host: HOST, accept: 'text/event-stream' },
        agent: false,
      });
      req.on('error', (err) => failures.push(`stream ${i}: ${err.message}`));
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => (streamTexts[i] += d));
        res.on('end', () => (streamEnded[i] = true));
      });
      req.end();
      return req;
    });
    await waitFor('every stream to start', () => streamTexts.every((t) => t.includes('event: version')));

    // App event streams: each must end with its terminator (never a reset), and reconnects.
    const appStreamEnds: ('end' | 'error')[] = [];
    const appStreams = new Set<ReturnType<typeof httpRequest>>();
    const openAppStream = (): void => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/sse', headers: { host: HOST }, agent: false });
      appStreams.add(req);
      req.on('error', (err) => {
        if (!stop) failures.push(`app stream: ${err.message}`);
      });
      req.on('response', (res) => {
        res.resume();
        const ended = (how: 'end' | 'error'): void => {
          appStreams.delete(req);
          if (stop) return;
          appStreamEnds.push(how);
          openAppStream();
        };
        res.on('end', () => ended('end'));
        res.on('aborted', () => ended('error'));
        res.on('error', () => {});
      });
      req.end();
    };
    for (let i = 0; i < APP_STREAMS; i++) openAppStream();

    let drains = 0;
    try {
      for (let flip = 0; flip < FLIPS; flip++) {
        await delay(flip % 10 === 0 ? 2 : 0);
        const color: Color = flip % 2 === 0 ? 'green' : 'blue';
        if (flip % 3 === 0) router.shift('shop', color, 1 + ((flip * 37) % 99));
        else router.activate('shop', color, flip % 7 === 0 ? 'rollback' : 'forward');
        // Now and then a pause long enough for the skew grace to end after a forward flip.
        if (flip % 200 === 100) await delay(150);
        // Now and then the idle colour is drained and registered again: its WebSockets go away.
        if (flip % 250 === 125) {
          // Alternate, so the colour drained holds WebSockets opened since the last drain.
          const keep: Color = drains % 2 === 0 ? 'green' : 'blue';
          const idle: Color = keep === 'blue' ? 'green' : 'blue';
          router.activate('shop', keep);
          await router.drainSlot('shop', idle, 1000);
          register(idle);
          drains++;
        }
      }
    } finally {
      stop = true;
      clearInterval(chatter);
      await Promise.all(workers);
      await pool.close();
    }

    t.diagnostic(`${ok} requests, ${closes.length} WebSockets closed (grace, rollback, drain), ${appStreamEnds.length} app streams ended by drains`);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(ok > 2000, `only ${ok} requests completed`);
    assert.equal(drains, 4);
    assert.ok(closes.length > 0, 'drains closed some WebSockets');
    for (const close of closes) assert.deepEqual(close, { code: 1001, wasClean: true });
    assert.ok(appStreamEnds.length >= APP_STREAMS, `drains ended ${appStreamEnds.length} app streams`);
    assert.deepEqual(appStreamEnds.filter((how) => how !== 'end'), [], 'every app stream ended cleanly');
    for (let i = 0; i < STREAMS; i++) {
      assert.equal(streamEnded[i], false, `stream ${i} stayed open`);
      const events = (streamTexts[i] as string).match(/event: version/g)?.length ?? 0;
      assert.ok(events > FLIPS, `stream ${i} got ${events} events`);
    }
    for (const s of sockets) s.ws.close(1000);
    await Promise.all([...sockets].map((s) => s.closed));
    for (const req of streams) req.destroy();
    for (const req of appStreams) req.destroy();
  });
});
