import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Pool } from 'undici';
import { isCutoverError, ManualClock } from '../shared/index.ts';
import type { Router } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen, TestApp } from './test-app.ts';

const HOST = 'shop.test';
const TOKEN = 'preview-token-0123456789';
const GRACE = 60_000;

interface Answer {
  status: number;
  body: string;
  version: string | undefined;
  reload: string | undefined;
  setCookie: string | undefined;
}

describe('router preview and skew protection', () => {
  let router: Router;
  let green: TestApp;
  let client: Pool;
  let bg: BlueGreen;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    bg = await startBlueGreen({
      router: { pauseTimeoutMs: 0, skewGraceMs: GRACE, clock },
      deploymentIds: true,
      connections: 4,
    });
    ({ router, green, client } = bg);
  });

  afterEach(async () => {
    await bg.close();
  });

  async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await client.request({ path, method: 'GET', headers: { host: HOST, ...headers } });
    const h = res.headers;
    return {
      status: res.statusCode,
      body: await res.body.text(),
      version: h['x-app-version'] as string | undefined,
      reload: h['x-cutover-reload'] as string | undefined,
      setCookie: h['set-cookie'] as string | undefined,
    };
  }

  it('routes a right preview token to the idle colour and refuses a wrong one with 403', async () => {
    router.setPreviewToken('shop', TOKEN);
    assert.equal(router.state()[0]?.preview, true);
    const byHeader = await get('/headers', { 'x-cutover-preview': TOKEN });
    assert.equal(byHeader.version, '2.0.0');
    // The token is for the router: the app never sees it.
    assert.equal(JSON.parse(byHeader.body).headers['x-cutover-preview'], undefined);
    assert.equal((await get('/', { cookie: `a=b; cutover_preview=${TOKEN}` })).body, '2.0.0');
    // Nor in its cookie (review L11): the other cookies arrive unchanged, an emptied header not at all.
    const byCookie = JSON.parse(
      (await get('/headers', { cookie: `a=b; cutover_preview=${TOKEN}; c="d e"` })).body,
    );
    assert.equal(byCookie.headers.cookie, 'a=b; c="d e"');
    assert.equal(
      JSON.parse((await get('/headers', { cookie: `cutover_preview=${TOKEN}` })).body).headers.cookie,
      undefined,
    );
    const greenHits = green.hits;
    const wrong = await get('/', { 'x-cutover-preview': `${TOKEN}x` });
    assert.equal(wrong.status, 403);
    assert.equal(JSON.parse(wrong.body).code, 'PREVIEW_DENIED');
    assert.equal(wrong.setCookie, undefined);
    // A stale cookie is refused once and cleared.
    const stale = await get('/', { cookie: 'cutover_preview=old-token-0123456789' });
    assert.equal(stale.status, 403);
    assert.match(String(stale.setCookie), /^cutover_preview=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0$/);
    assert.equal(green.hits, greenHits, 'refused requests never reach the app');
    // Everyone else still gets the active colour.
    assert.equal((await get('/')).body, '1.0.0');
  });

  it('sets the preview cookie from the well-known preview link', async () => {
    router.setPreviewToken('shop', TOKEN);
    const login = await get(`/.well-known/cutover/preview?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(login.status, 303);
    assert.equal(login.setCookie, `cutover_preview=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`);
    assert.equal((await get('/.well-known/cutover/preview?token=nope')).status, 403);
    const logout = await get('/.well-known/cutover/preview?token=');
    assert.match(String(logout.setCookie), /Max-Age=0/);
  });

  it('closes the preview with null, answers 503 without an idle slot, and validates the token', async () => {
    router.setPreviewToken('shop', TOKEN);
    router.setPreviewToken('shop', null);
    assert.equal((await get('/', { 'x-cutover-preview': TOKEN })).status, 403);
    router.setPreviewToken('shop', TOKEN);
    await router.drainSlot('shop', 'green');
    const none = await get('/', { 'x-cutover-preview': TOKEN });
    assert.equal(none.status, 503);
    assert.equal(JSON.parse(none.body).code, 'NO_PREVIEW_SLOT');
    assert.throws(
      () => router.setPreviewToken('shop', 'short'),
      (e) => isCutoverError(e) && e.code === 'VALIDATION_FAILED',
    );
  });

  it('sets the deployment cookie (the version) on HTML pages only, and only when it changes', async () => {
    const first = await get('/html');
    assert.equal(first.setCookie, 'cutover_dpl=1.0.0; Path=/; HttpOnly; SameSite=Lax');
    assert.equal((await get('/html', { cookie: 'cutover_dpl=1.0.0' })).setCookie, undefined);
    assert.equal((await get('/')).setCookie, undefined, 'not on a text/plain response');
    // A cookie naming the deployment id (written before issue 18) is served and moved to the version.
    const older = await get('/html', { cookie: 'cutover_dpl=d1' });
    assert.equal(older.reload, undefined);
    assert.equal(older.setCookie, 'cutover_dpl=1.0.0; Path=/; HttpOnly; SameSite=Lax');
  });

  it('serves the previous colour to its version or deployment id within the grace, then asks for a reload', async () => {
    router.activate('shop', 'green');
    const old = await get('/html', { cookie: 'cutover_dpl=1.0.0' });
    assert.equal(old.version, '1.0.0');
    assert.equal(old.reload, undefined);
    assert.equal(old.setCookie, undefined, 'the old page keeps its cookie');
    const byHeader = await get('/html', { 'x-deployment-id': 'd1' });
    assert.equal(byHeader.version, '1.0.0');
    // No cookie yet: it is set to what served the page.
    assert.equal(byHeader.setCookie, 'cutover_dpl=1.0.0; Path=/; HttpOnly; SameSite=Lax');
    assert.equal((await get('/?dpl=d1')).version, '1.0.0');
    assert.equal((await get('/?dpl=1.0.0')).version, '1.0.0');
    assert.equal((await get('/')).version, '2.0.0');
    clock.advance(GRACE);
    const late = await get('/html', { cookie: 'cutover_dpl=1.0.0' });
    assert.equal(late.version, '2.0.0');
    assert.equal(late.reload, '1');
    assert.equal(late.setCookie, 'cutover_dpl=2.0.0; Path=/; HttpOnly; SameSite=Lax');
    const api = await get('/', { cookie: 'cutover_dpl=d1' });
    assert.equal(api.reload, '1');
    assert.equal(api.setCookie, undefined);
    // A longer grace brings the old colour back for it; draining it ends that for good.
    router.setSkewGrace(2 * GRACE);
    assert.equal((await get('/', { 'x-deployment-id': 'd1' })).version, '1.0.0');
    await router.drainSlot('shop', 'blue');
    const drained = await get('/', { 'x-deployment-id': 'd1' });
    assert.equal(drained.version, '2.0.0');
    assert.equal(drained.reload, '1');
  });

  it('tells an old page the new version on the version endpoint, despite its deployment id', async () => {
    router.activate('shop', 'green');
    const res = await get('/.well-known/cutover/version', { cookie: 'cutover_dpl=d1' });
    assert.equal(JSON.parse(res.body).version, '2.0.0');
  });
});
