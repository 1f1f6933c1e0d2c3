import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './test-harness.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const spec = (env: Record<string, string>) => ({ app: 'shop', version: '1.0.0', artifact: { digest: DIGEST, size: 10 }, start: 'node server.js', env });

test('a JSON body above maxApiBody is refused with 413 BODY_TOO_LARGE, by Content-Length or while it streams', async () => {
  const h = await startHarness(undefined, { maxApiBody: 1024 });
  try {
    const small = await h.call('deployer', 'POST', '/api/instances', { name: 'a', app: 'shop', hosts: ['a.test'] });
    assert.notEqual(small.status, 413);

    const big = await h.call('deployer', 'POST', '/api/instances', { name: 'a', app: 'shop', hosts: ['a.test'], pad: 'x'.repeat(2000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'BODY_TOO_LARGE');
    assert.match(big.body.message, /1024 bytes.*maxApiBody/);

    // No Content-Length (chunked): the reader stops at the first chunk past the limit.
    let pulled = 0;
    const chunks = 1000;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > chunks) controller.close();
        else controller.enqueue(new TextEncoder().encode(pulled === 1 ? '{"pad":"' : 'x'.repeat(100)));
      },
    });
    const res = await h.request('/api/releases', {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.deployer}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, 'BODY_TOO_LARGE');
    assert.ok(pulled < 50, `read ${pulled} chunks of ${chunks}: the body must not be read past the limit`);

    // Every JSON route goes through the same reader: a hold, a route validated by the table.
    for (const [method, path] of [
      ['PUT', '/api/instances/a/hold'],
      ['POST', '/api/channels'],
    ]) {
      const r = await h.call('admin', method!, path!, { pad: 'x'.repeat(2000) });
      assert.equal(r.status, 413, `${method} ${path}`);
    }
  } finally {
    await h.close();
  }
});

test('the default limit is 1 MiB', async () => {
  const h = await startHarness();
  try {
    const r = await h.call('deployer', 'POST', '/api/releases', { ...spec({}), notes: 'x'.repeat(1024 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.details.limit, 1024 * 1024);
  } finally {
    await h.close();
  }
});

test('publish refuses env that no process could receive or that is too large, naming the key and never the value', async () => {
  const h = await startHarness();
  try {
    const secret = 'Sup3rSecretValue';
    const nul = await h.call('deployer', 'POST', '/api/releases', spec({ DB_URL: `postgres://u:${secret}\u0000x` }));
    assert.equal(nul.status, 400);
    assert.equal(nul.body.code, 'MANIFEST_INVALID');
    assert.deepEqual(
      nul.body.details.issues.map((i: { path: string }) => i.path),
      ['env.DB_URL'],
    );
    assert.match(nul.body.details.issues[0].message, /NUL byte/);
    assert.doesNotMatch(JSON.stringify(nul.body), new RegExp(secret));

    const long = await h.call('deployer', 'POST', '/api/releases', spec({ BIG: `${secret}${'x'.repeat(40_000)}` }));
    assert.equal(long.status, 400);
    assert.equal(long.body.details.issues[0].path, 'env.BIG');
    assert.match(long.body.details.issues[0].message, /at most 32768 bytes per value/);
    assert.doesNotMatch(JSON.stringify(long.body), new RegExp(secret));

    // Each value fits, together they do not: execve would refuse it (E2BIG) on a small stack.
    const env: Record<string, string> = {};
    for (let i = 0; i < 5; i++) env[`V${i}`] = 'y'.repeat(20_000);
    const total = await h.call('deployer', 'POST', '/api/releases', spec(env));
    assert.equal(total.status, 400);
    assert.equal(total.body.details.issues[0].path, 'env');
    assert.match(total.body.details.issues[0].message, /together with the start command; at most 65536 bytes/);

    const many: Record<string, string> = {};
    for (let i = 0; i < 1001; i++) many[`K${i}`] = '1';
    const count = await h.call('deployer', 'POST', '/api/releases', spec(many));
    assert.match(count.body.details.issues[0].message, /has 1001 variables; at most 1000/);

    const longKey = `K${'A'.repeat(300)}`;
    const key = await h.call('deployer', 'POST', '/api/releases', spec({ [longKey]: '1' }));
    assert.equal(key.status, 400);
    assert.equal(key.body.details.issues.length, 1);
    assert.equal(key.body.details.issues[0].path, 'env');
    assert.match(key.body.details.issues[0].message, /variable "KA{39}…" has a 301-byte name; at most 256 bytes/);

    const start = await h.call('deployer', 'POST', '/api/releases', { ...spec({}), start: 'node\u0000 server.js' });
    assert.equal(start.body.details.issues[0].path, 'start');
    assert.match(start.body.details.issues[0].message, /NUL byte/);

    // Nothing was stored by any of them.
    assert.equal((await h.store.listReleases()).length, 0);
  } finally {
    await h.close();
  }
});
