import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../shared/index.ts';
import { packArtifact } from '../releases/index.ts';
import { collectUnreferencedArtifacts } from '../control/index.ts';
import { startHarness } from './test-harness.ts';

async function tgz(t: { after: (fn: () => Promise<void>) => void }, content: string): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-upload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'app', 'server.js'), content);
  return readFile((await packArtifact(path.join(dir, 'app'), dir)).file);
}

const upload = (body: Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { authorization: 'Bearer tok-deployer', 'content-type': 'application/gzip', ...headers },
  body,
  duplex: 'half',
}) as RequestInit;

test('uploads: a .tgz is stored; zeros and anything past maxArtifactSize are refused and nothing is kept', async (t) => {
  const h = await startHarness(undefined, { maxArtifactSize: 64 * 1024 });
  try {
    const good = await tgz(t, 'console.log("ok")\n');
    const ok = await h.request('/api/artifacts', upload(new Uint8Array(good)));
    assert.equal(ok.status, 201);
    const stored = (await ok.json()) as { digest: string; size: number };
    assert.equal(stored.size, good.length);
    assert.equal((await h.artifacts.list()).length, 1);

    const zeros = await h.request('/api/artifacts', upload(new Uint8Array(32 * 1024)));
    assert.equal(zeros.status, 400);
    const zerosBody = (await zeros.json()) as { code: string; message: string };
    assert.equal(zerosBody.code, 'ARTIFACT_INVALID');
    assert.match(zerosBody.message, /not gzip data.*nothing was stored/);

    const declared = await h.request('/api/artifacts', upload(new Uint8Array(good), { 'content-length': String(10 * 1024 * 1024) }));
    assert.equal(declared.status, 413);

    // Streamed with no length: counted, and cut at the limit.
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled === 1) controller.enqueue(new Uint8Array(good));
        else if (pulled > 1000) controller.close();
        else controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const big = await h.request('/api/artifacts', upload(stream));
    assert.equal(big.status, 413);
    const bigBody = (await big.json()) as { code: string; message: string; details: { limit: number } };
    assert.equal(bigBody.code, 'BODY_TOO_LARGE');
    assert.match(bigBody.message, /maxArtifactSize/);
    assert.equal(bigBody.details.limit, 64 * 1024);
    assert.ok(pulled < 20, `pulled ${pulled} chunks`);

    assert.deepEqual((await h.artifacts.list()).map((f) => f.digest), [stored.digest]);
  } finally {
    await h.close();
  }
});

test('uploads no release references are collected once older than the age; referenced ones and fresh ones stay', async (t) => {
  const h = await startHarness();
  try {
    const DAY = 86_400_000;
    const digests: string[] = [];
    for (const content of ['a', 'b', 'c']) {
      const res = await h.request('/api/artifacts', upload(new Uint8Array(await tgz(t, content))));
      assert.equal(res.status, 201);
      digests.push(((await res.json()) as { digest: string }).digest);
    }
    const [published, stale, fresh] = digests as [string, string, string];
    const pub = await h.call('deployer', 'POST', '/api/releases', { app: 'shop', version: '1.0.0', artifact: { digest: published, size: 1 }, start: 'node server.js' });
    assert.equal(pub.status, 201);
    const now = h.clock.now();
    const age = async (digest: string, ms: number) => {
      const when = new Date(now - ms);
      await utimes(h.artifacts.path(digest), when, when);
    };
    await age(published, 30 * DAY);
    await age(stale, DAY + 1);
    await age(fresh, DAY - 60_000);
    const deps = { store: h.store, artifacts: h.artifacts, clock: h.clock, log: silentLogger };
    const deleted = await collectUnreferencedArtifacts(deps, DAY);
    assert.deepEqual(deleted, [`sha256-${stale.slice(7)}.tgz`]);
    assert.equal(await h.artifacts.has(stale), false);
    assert.equal(await h.artifacts.has(published), true);
    assert.equal(await h.artifacts.has(fresh), true);

    // Uploading the same bytes again restarts their age, so a publish right after is safe.
    await age(fresh, 2 * DAY);
    const again = await h.request('/api/artifacts', upload(new Uint8Array(await tgz(t, 'c')), {}));
    assert.equal(again.status, 201);
    h.clock.set(Date.now());
    assert.deepEqual(await collectUnreferencedArtifacts({ ...deps }, DAY), []);
  } finally {
    await h.close();
  }
});

test('a download of an artifact changed at rest does not end cleanly', async (t) => {
  const h = await startHarness();
  try {
    const good = await tgz(t, 'console.log("real")\n');
    const res = await h.request('/api/artifacts', upload(new Uint8Array(good)));
    const { digest } = (await res.json()) as { digest: string };
    const get = () => h.request(`/api/artifacts/${digest}`, { headers: { authorization: 'Bearer tok-viewer' } });
    assert.deepEqual(Buffer.from(await (await get()).arrayBuffer()), good);
    await writeFile(h.artifacts.path(digest), await tgz(t, 'console.log("TAMPERED")\n'));
    const tampered = await get();
    assert.equal(tampered.status, 200, 'the headers went out before the end of the file was hashed');
    await assert.rejects(tampered.arrayBuffer());
  } finally {
    await h.close();
  }
});

test("a test's own artifact must be uploaded before publishing, and is then kept like the release's", async (t) => {
  const h = await startHarness();
  try {
    const digests: string[] = [];
    for (const content of ['app', 'tests']) {
      const res = await h.request('/api/artifacts', upload(new Uint8Array(await tgz(t, content))));
      digests.push(((await res.json()) as { digest: string }).digest);
    }
    const [app, tests] = digests as [string, string];
    const missing = `sha256:${'0'.repeat(64)}`;
    const spec = (artifact: string) => ({ app: 'shop', version: '1.0.0', artifact: { digest: app, size: 1 }, start: 'node server.js', tests: { smoke: { command: 'node smoke.mjs', artifact } } });
    const refused = await h.call('deployer', 'POST', '/api/releases', spec(missing));
    assert.equal(refused.status, 404, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'ARTIFACT_NOT_FOUND');
    assert.match(refused.body.message, /test artifact/);
    assert.equal((await h.call('deployer', 'POST', '/api/releases', spec(tests))).status, 201);
    const old = new Date(h.clock.now() - 30 * 86_400_000);
    for (const d of digests) await utimes(h.artifacts.path(d), old, old);
    const deps = { store: h.store, artifacts: h.artifacts, clock: h.clock, log: silentLogger };
    assert.deepEqual(await collectUnreferencedArtifacts(deps, 86_400_000), [], 'both are referenced');
  } finally {
    await h.close();
  }
});
