import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pool } from 'undici';
import { isCutoverError } from '../shared/index.ts';
import type { Router } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen } from './test-app.ts';

const HOST = 'shop.test';
const STICKY = 'cutover_sticky_shop';

describe('router weighted shift', () => {
  let router: Router;
  let client: Pool;
  let bg: BlueGreen;

  before(async () => {
    bg = await startBlueGreen({ router: { pauseTimeoutMs: 0 }, deploymentIds: true });
    ({ router, client } = bg);
  });

  after(async () => {
    await bg.close();
  });

  async function get(cookie?: string): Promise<{ body: string; setCookie: string | undefined }> {
    const headers: Record<string, string> = { host: HOST };
    if (cookie !== undefined) headers.cookie = cookie;
    const res = await client.request({ path: '/', method: 'GET', headers });
    const setCookie = res.headers['set-cookie'];
    assert.ok(setCookie === undefined || typeof setCookie === 'string');
    return { body: await res.body.text(), setCookie };
  }

  it('sends exactly the weight of new clients to the new colour and pins each with a cookie', async () => {
    router.shift('shop', 'green', 30);
    const state = router.state()[0];
    assert.deepEqual(state?.weights, { blue: 70, green: 30 });
    assert.equal(state?.active, 'blue');
    assert.equal(state?.shiftingTo, 'green');
    let greens = 0;
    for (let i = 0; i < 100; i++) {
      const { body, setCookie } = await get();
      if (body === '2.0.0') greens++;
      // The cookie names the version, not the colour (another machine may hold it in the other).
      assert.equal(setCookie, `${STICKY}=${body}; Path=/; HttpOnly; SameSite=Lax`);
    }
    assert.equal(greens, 30);
  });

  it('never bounces a client with the sticky cookie while the weight changes', async () => {
    router.shift('shop', 'green', 20);
    const clients: { cookie: string; version: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const { body, setCookie } = await get('session=abc');
      clients.push({ cookie: `session=abc; ${String(setCookie).split(';')[0]}`, version: body });
    }
    assert.ok(clients.some((c) => c.version === '2.0.0') && clients.some((c) => c.version === '1.0.0'));
    const checks: Promise<void>[] = [];
    for (const weight of [10, 50, 90, 60]) {
      router.shift('shop', 'green', weight);
      for (const c of clients) {
        for (let i = 0; i < 5; i++) {
          checks.push(
            get(c.cookie).then(({ body, setCookie }) => {
              assert.equal(body, c.version, `a client pinned to ${c.version} got ${body} at ${weight}%`);
              assert.equal(setCookie, undefined, 'a pinned client gets no new cookie');
            }),
          );
        }
      }
      await Promise.all(checks.splice(0));
    }
  });

  it('100 % is the all-at-once flip and ends the shift; 0 % goes back to the other colour', async () => {
    router.shift('shop', 'green', 50);
    router.shift('shop', 'green', 100);
    let state = router.state()[0];
    assert.equal(state?.active, 'green');
    assert.equal(state?.shiftingTo, null);
    assert.deepEqual(state?.weights, { blue: 0, green: 100 });
    // The sticky cookie only matters during a shift.
    assert.equal((await get(`${STICKY}=1.0.0`)).body, '2.0.0');
    router.shift('shop', 'green', 0);
    state = router.state()[0];
    assert.equal(state?.active, 'blue');
    assert.deepEqual(state?.weights, { blue: 100, green: 0 });
    assert.equal((await get()).body, '1.0.0');
  });

  it('refuses bad weights, missing colours and draining a colour being shifted to', async () => {
    assert.throws(
      () => router.shift('shop', 'green', 101),
      (e) => isCutoverError(e) && e.code === 'VALIDATION_FAILED',
    );
    assert.throws(
      () => router.shift('shop', 'green', 12.5),
      (e) => isCutoverError(e) && e.code === 'VALIDATION_FAILED',
    );
    router.shift('shop', 'green', 10);
    await assert.rejects(
      router.drainSlot('shop', 'green'),
      (e) => isCutoverError(e) && e.code === 'SLOT_ACTIVE',
    );
    router.activate('shop', 'blue');
    await router.drainSlot('shop', 'green');
    assert.throws(
      () => router.shift('shop', 'green', 50),
      (e) => isCutoverError(e) && e.code === 'SLOT_NOT_FOUND',
    );
    assert.throws(
      () => router.shift('ghost', 'green', 50),
      (e) => isCutoverError(e) && e.code === 'INSTANCE_NOT_FOUND',
    );
  });
});
