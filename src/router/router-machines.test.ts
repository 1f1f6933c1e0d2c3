// Two routers standing for two machines behind an outside load balancer, holding the same releases
// in opposite colours (issue 18): what a client carries names the version, so a client moved from
// one machine to the other stays on its version.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { ManualClock } from '../shared/index.ts';
import { createRouter } from './index.ts';
import type { Router } from './index.ts';
import { startBlueGreen } from './test-app.ts';
import type { BlueGreen } from './test-app.ts';

const HOST = 'shop.test';
const STICKY = 'cutover_sticky_shop';
const GRACE = 60_000;

interface Answer {
  version: string;
  reload: string | undefined;
  /** The `name=value` pairs of the answer's Set-Cookie headers. */
  cookies: string[];
}

async function get(client: Pool, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await client.request({ path, method: 'GET', headers: { host: HOST, ...headers } });
  const body = await res.body.text();
  const set = res.headers['set-cookie'];
  const cookies = (set === undefined ? [] : Array.isArray(set) ? set : [set]).map((c) => c.split(';')[0] as string);
  assert.equal(res.statusCode, 200, body);
  return { version: res.headers['x-app-version'] as string, reload: res.headers['x-cutover-reload'] as string | undefined, cookies };
}

const stickyOf = (a: Answer) => a.cookies.find((c) => c.startsWith(`${STICKY}=`));

describe('routers on two machines, one release in opposite colours', () => {
  const clock = new ManualClock();
  let one: BlueGreen;
  let two: Router;
  let client1: Pool;
  let client2: Pool;

  before(async () => {
    // Machine 1: blue 1.0.0 (d1), green 2.0.0 (d2). Machine 2 got the same releases the other way
    // round, by other deployments (e1, e2): only the versions are the same.
    one = await startBlueGreen({ router: { pauseTimeoutMs: 0, skewGraceMs: GRACE, clock }, deploymentIds: true });
    client1 = one.client;
    two = createRouter({ pauseTimeoutMs: 0, skewGraceMs: GRACE, clock });
    const port = await two.listen(0, '127.0.0.1');
    two.setInstance('shop', [HOST]);
    two.setSlot('shop', { color: 'blue', version: '2.0.0', port: one.green.port, deploymentId: 'e2' });
    two.setSlot('shop', { color: 'green', version: '1.0.0', port: one.blue.port, deploymentId: 'e1' });
    two.activate('shop', 'green');
    client2 = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  });

  after(async () => {
    await client2.close();
    await two.close();
    await one.close();
  });

  it('a sticky cookie from one machine during a 50 % shift lands on the same version on the other, for every client', async () => {
    one.router.shift('shop', 'green', 50);
    two.shift('shop', 'blue', 50);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      // Clients start on either machine and are moved to the other one.
      const [first, second] = i % 2 === 0 ? [client1, client2] : [client2, client1];
      const got = await get(first, '/');
      const sticky = stickyOf(got);
      assert.equal(sticky, `${STICKY}=${got.version}`, 'the cookie names the version');
      seen.add(got.version);
      for (let j = 0; j < 3; j++) {
        const moved = await get(second, '/', { cookie: `session=s${i}; ${sticky}` });
        assert.equal(moved.version, got.version, `client ${i} moved machines and changed version`);
        assert.equal(stickyOf(moved), undefined, 'a client on its version is not re-stuck');
      }
    }
    assert.deepEqual([...seen].sort(), ['1.0.0', '2.0.0'], 'both versions were handed out');
  });

  it('a cookie naming a version no colour holds is no cookie: the usual choice, and the client is re-stuck', async () => {
    const got = await get(client2, '/', { cookie: `${STICKY}=0.9.0` });
    assert.equal(stickyOf(got), `${STICKY}=${got.version}`);
  });

  it('an old colour-valued cookie keeps its colour for one release, and is rewritten with the version', async () => {
    const got = await get(client1, '/', { cookie: `${STICKY}=green.d2` });
    assert.equal(got.version, '2.0.0');
    assert.equal(stickyOf(got), `${STICKY}=2.0.0`);
    assert.equal((await get(client1, '/', { cookie: `${STICKY}=blue.d1` })).version, '1.0.0');
  });

  it("a skew id from one machine is honoured on the other, whichever colour holds it there", async () => {
    // Both machines go to 2.0.0: machine 1 flips to green, machine 2 to blue.
    one.router.activate('shop', 'blue');
    two.activate('shop', 'green');
    const page = await get(client1, '/html');
    assert.deepEqual(page.cookies, ['cutover_dpl=1.0.0']);
    one.router.activate('shop', 'green');
    two.activate('shop', 'blue');
    for (const client of [client1, client2]) {
      const old = await get(client, '/html', { cookie: page.cookies[0] as string });
      assert.equal(old.version, '1.0.0', 'the old page keeps its version within the grace');
      assert.equal(old.reload, undefined);
      assert.equal((await get(client, '/', { 'x-deployment-id': '1.0.0' })).version, '1.0.0');
      assert.equal((await get(client, '/')).version, '2.0.0');
    }
    // A deployment id only names a release on the machine that knows it.
    assert.equal((await get(client1, '/', { 'x-deployment-id': 'd1' })).version, '1.0.0');
    assert.equal((await get(client2, '/', { 'x-deployment-id': 'd1' })).reload, '1');
    clock.advance(GRACE);
    const late = await get(client2, '/html', { cookie: page.cookies[0] as string });
    assert.equal(late.version, '2.0.0');
    assert.equal(late.reload, '1');
    assert.deepEqual(late.cookies, ['cutover_dpl=2.0.0']);
  });
});
