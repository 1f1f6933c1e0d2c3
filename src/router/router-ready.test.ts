// The ready endpoint over HTTP: what an outside load balancer's health check sees.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Router } from './index.ts';
import type { InstanceExpectation, MachineExpectation } from './readiness.ts';
import { send, startBlueGreen } from './test-app.ts';
import type { BlueGreen } from './test-app.ts';

const HOST = 'shop.test';
const PATH = '/.well-known/cutover/ready';

const expecting = (instances: Record<string, InstanceExpectation>, draining = false): MachineExpectation => ({
  draining,
  instances: new Map(Object.entries(instances)),
});

describe('router ready endpoint', () => {
  let bg: BlueGreen;
  let router: Router;
  let port: number;

  beforeEach(async () => {
    // Requests without an active colour are held for 5 s: the ready check must never be.
    bg = await startBlueGreen({ router: { pauseTimeoutMs: 5000 }, deploymentIds: true });
    ({ router, port } = bg);
  });

  afterEach(async () => {
    await bg.close();
  });

  async function ready(headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> | null; cache: unknown }> {
    const res = await send(port, { path: PATH, method, headers: { host: HOST, ...headers } });
    const text = res.body.toString();
    return { status: res.status, body: text === '' ? null : JSON.parse(text), cache: res.headers['cache-control'] };
  }

  const counted = () => router.stats()[0]!.colors.reduce((sum, c) => sum + c.requests, 0);

  it('without a desired-state document, an active colour is ready; it never reaches the app nor counts', async () => {
    const answer = await ready();
    assert.deepEqual(answer, { status: 200, body: { ready: true, instance: 'shop', version: '1.0.0' }, cache: 'no-store' });
    assert.equal((await ready({}, 'HEAD')).status, 200);
    assert.equal((await ready({}, 'POST')).status, 405);
    assert.equal(bg.blue.hits + bg.green.hits, 0, 'answered by the router');
    assert.equal(counted(), 0, 'not in the counters the bake reads');
    const unknown = await send(port, { path: PATH, headers: { host: 'nobody.test' } });
    assert.equal(unknown.status, 404);
  });

  it('takes the host from the query when the Host header names no instance (a load balancer that cannot set it)', async () => {
    const byQuery = await send(port, { path: `${PATH}?host=Shop.Test`, headers: { host: '10.0.0.11:8080' } });
    assert.equal(byQuery.status, 200);
    assert.deepEqual(JSON.parse(byQuery.body.toString()), { ready: true, instance: 'shop', version: '1.0.0' });
    assert.equal((await send(port, { path: `${PATH}?host=nobody.test`, headers: { host: '10.0.0.11:8080' } })).status, 404);
    assert.equal((await send(port, { path: '/?host=shop.test', headers: { host: '10.0.0.11:8080' } })).status, 404, 'only for the ready check');
  });

  it('answers 503 at once without an active colour, instead of holding the check', async () => {
    router.deactivate('shop');
    // A held request would end, after the pause timeout, with the router's NO_ACTIVE_SLOT error instead.
    const answer = await ready();
    assert.deepEqual(answer.body, { ready: false, instance: 'shop', reason: 'no-active-slot' });
    assert.equal(answer.status, 503);
    assert.equal(router.state()[0]?.held, 0);
  });

  it('follows the document: the live release served, not yet served, removed, draining', async () => {
    router.setExpectation(expecting({ shop: { live: '1.0.0', flippedSince: false } }));
    assert.equal((await ready()).status, 200);
    router.setExpectation(expecting({ shop: { live: '2.0.0', flippedSince: false } }));
    assert.deepEqual(await ready(), {
      status: 503,
      body: { ready: false, instance: 'shop', reason: 'live-not-served', live: '2.0.0', serving: '1.0.0' },
      cache: 'no-store',
    });
    router.activate('shop', 'green');
    assert.deepEqual((await ready()).body, { ready: true, instance: 'shop', version: '2.0.0' });
    router.setExpectation(expecting({}));
    assert.deepEqual((await ready()).body, { ready: false, instance: 'shop', reason: 'removing' });
    router.setExpectation(expecting({ shop: { live: '2.0.0', flippedSince: false } }, true));
    assert.deepEqual(await ready(), { status: 503, body: { ready: false, instance: 'shop', reason: 'draining' }, cache: 'no-store' });
    router.setExpectation(null);
    assert.equal((await ready()).status, 200);
    assert.equal(counted(), 0);
  });

  it('answers during maintenance (the page is the instance’s, not the machine’s), and through an absolute target', async () => {
    router.setMaintenance('shop', {});
    assert.equal((await ready()).status, 200);
    assert.equal((await send(port, { path: '/', headers: { host: HOST } })).status, 503, 'everything else gets the page');
    const absolute = await send(port, { path: `http://${HOST}${PATH}`, headers: { host: HOST } });
    assert.equal(absolute.status, 200);
  });
});
