import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EventSource } from 'undici';
import { versionScriptFile } from './index.ts';
import type { Router } from './index.ts';
import { send, startBlueGreen } from './test-app.ts';
import type { BlueGreen, TestApp } from './test-app.ts';
import { waitFor } from '../testing/index.ts';

// The router serves every host of an instance; EventSource and fetch send the literal address.
const HOST = '127.0.0.1';

interface Stream {
  res: IncomingMessage;
  text: () => string;
  events: () => { version: string; color: string }[];
  ended: Promise<void>;
}

function openStream(port: number, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/.well-known/cutover/version',
      headers: { host: HOST, accept: 'text/event-stream', ...headers },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      const ended = new Promise<void>((done) => res.on('end', done));
      resolve({
        res,
        text: () => text,
        events: () =>
          [...text.matchAll(/event: version\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1] as string)),
        ended,
      });
    });
    req.end();
  });
}

describe('router version signal', () => {
  let router: Router;
  let port: number;
  let blue: TestApp;
  let bg: BlueGreen;

  beforeEach(async () => {
    bg = await startBlueGreen({
      router: { versionHeartbeatMs: 50, pauseTimeoutMs: 0 },
      host: HOST,
      deploymentIds: true,
    });
    ({ router, port, blue } = bg);
  });

  afterEach(async () => {
    await bg.close();
  });

  it('answers the active version as JSON without proxying', async () => {
    const res = await send(port, { path: '/.well-known/cutover/version', headers: { host: HOST } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const info = JSON.parse(res.body.toString());
    assert.deepEqual(
      { ...info, flippedAt: typeof info.flippedAt },
      {
        instance: 'shop',
        version: '1.0.0',
        deploymentId: 'd1',
        color: 'blue',
        flippedAt: 'string',
      },
    );
    assert.equal(blue.hits, 0);
    assert.equal(
      (await send(port, { path: '/.well-known/cutover/nope', headers: { host: HOST } })).status,
      404,
    );
    assert.equal(
      (await send(port, { path: '/.well-known/cutover/version', method: 'POST', headers: { host: HOST } }))
        .status,
      405,
    );
  });

  it('streams the version at once, at each flip and shift, with heartbeats, and ends on close', async () => {
    const stream = await openStream(port);
    assert.equal(stream.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    await waitFor('the first event', () => stream.events().length === 1);
    assert.equal(stream.events()[0]?.version, '1.0.0');
    router.activate('shop', 'green');
    await waitFor('the flip event', () => stream.events().length === 2);
    assert.equal(stream.events()[1]?.version, '2.0.0');
    router.shift('shop', 'blue', 50);
    await waitFor('the shift event', () => stream.events().length === 3);
    await waitFor('a heartbeat', () => stream.text().includes(': heartbeat\n\n'));
    await router.close();
    await stream.ended;
  });

  it('serves the browser helper', async () => {
    const res = await send(port, { path: '/.well-known/cutover/version.js', headers: { host: HOST } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/javascript/);
    assert.match(res.body.toString(), /export function watchVersion/);
    const size = (await stat(versionScriptFile)).size;
    assert.ok(size < 2048, `the helper is ${size} bytes`);
  });

  it('the browser helper announces a new version over SSE, and by polling without EventSource', async () => {
    const g = globalThis as Record<string, unknown>;
    // The page says which version it is, as an app would in its HTML.
    const document = Object.assign(new EventTarget(), {
      querySelector: (q: string) => (q === 'meta[name="cutover-version"]' ? { content: '1.0.0' } : null),
    });
    g.document = document;
    g.window = globalThis;
    g.EventSource = EventSource;
    const { watchVersion } = await import('./browser/cutover-version.js');
    const url = `http://127.0.0.1:${port}/.well-known/cutover/version`;
    const viaEvents: string[] = [];
    document.addEventListener('cutover:update', (e) => viaEvents.push((e as CustomEvent).detail.version));
    const updates: string[] = [];
    const stop = watchVersion({ url, onUpdate: (info) => updates.push(info.version) });
    try {
      router.activate('shop', 'green');
      await waitFor('the update over SSE', () => updates.includes('2.0.0'));
      assert.deepEqual(viaEvents, ['2.0.0']);
    } finally {
      stop();
    }
    delete g.EventSource;
    const polled: string[] = [];
    const stopPolling = watchVersion({
      url,
      current: '2.0.0',
      pollMs: 20,
      onUpdate: (i) => polled.push(i.version),
    });
    try {
      router.activate('shop', 'blue');
      await waitFor('the update by polling', () => polled.includes('1.0.0'));
    } finally {
      stopPolling();
    }
  });
});
