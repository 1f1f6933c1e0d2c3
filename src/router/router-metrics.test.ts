import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { createRouter, LATENCY_BUCKETS_MS } from './index.ts';
import type { Router } from './index.ts';
import { deadPort, startTestApp } from './test-app.ts';
import type { TestApp } from './test-app.ts';

describe('router counters', () => {
  let router: Router;
  let blue: TestApp;
  let client: Pool;

  before(async () => {
    blue = await startTestApp('1.0.0');
    router = createRouter({ pauseTimeoutMs: 0 });
    const port = await router.listen(0, '127.0.0.1');
    router.setInstance('shop', ['shop.test']);
    router.setSlot('shop', { color: 'blue', version: '1.0.0', port: blue.port, deploymentId: 'd1' });
    router.activate('shop', 'blue');
    router.setInstance('down', ['down.test']);
    router.setSlot('down', { color: 'green', version: '9"9', port: await deadPort() });
    router.activate('down', 'green');
    client = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  });

  after(async () => {
    await client.close();
    await router.close();
    await blue.close();
  });

  async function get(host: string, path: string): Promise<void> {
    const res = await client.request({ path, method: 'GET', headers: { host } });
    await res.body.dump();
  }

  it('counts requests, status classes, failures and latency per colour', async () => {
    for (let i = 0; i < 5; i++) await get('shop.test', '/');
    await get('shop.test', '/status?code=302');
    await get('shop.test', '/status?code=404');
    await get('shop.test', '/status?code=503');
    await get('down.test', '/');
    const stats = router.stats();
    const shop = stats.find((s) => s.instance === 'shop')?.colors[0];
    assert.ok(shop);
    assert.equal(shop.color, 'blue');
    assert.equal(shop.version, '1.0.0');
    assert.equal(shop.deploymentId, 'd1');
    assert.equal(shop.weight, 100);
    assert.equal(shop.requests, 8);
    assert.equal(shop.inFlight, 0);
    assert.deepEqual(shop.responses, { '1xx': 0, '2xx': 5, '3xx': 1, '4xx': 1, '5xx': 1, failed: 0 });
    assert.equal(shop.latency.count, 8);
    assert.equal(shop.latency.counts.length, LATENCY_BUCKETS_MS.length + 1);
    assert.ok(shop.latency.sumMs > 0);
    const down = stats.find((s) => s.instance === 'down')?.colors[0];
    assert.deepEqual(down?.responses, { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, failed: 1 });
    assert.equal(down?.latency.count, 0);
  });

  it('renders Prometheus text with cumulative buckets and escaped labels', async () => {
    const text = router.metricsText();
    const labels = 'instance="shop",color="blue",version="1.0.0"';
    assert.match(text, /^# HELP cutover_requests_total /m);
    assert.match(text, /^# TYPE cutover_request_duration_seconds histogram$/m);
    assert.ok(text.includes(`cutover_requests_total{${labels},code_class="2xx"} 5\n`));
    assert.ok(text.includes(`cutover_request_duration_seconds_bucket{${labels},le="+Inf"} 8\n`));
    assert.ok(text.includes(`cutover_request_duration_seconds_count{${labels}} 8\n`));
    assert.ok(text.includes(`cutover_inflight{${labels}} 0\n`));
    assert.ok(
      text.includes(
        'cutover_requests_total{instance="down",color="green",version="9\\"9",code_class="failed"} 1\n',
      ),
    );
    const buckets = [
      ...text.matchAll(/cutover_request_duration_seconds_bucket\{instance="shop"[^}]*le="([^"]+)"\} (\d+)/g),
    ];
    assert.equal(buckets.length, LATENCY_BUCKETS_MS.length + 1);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(buckets[i]?.[2]) >= Number(buckets[i - 1]?.[2]), 'buckets are cumulative');
    }
    assert.equal(buckets[0]?.[1], '0.001');
    assert.ok(text.endsWith('\n'));
  });
});
