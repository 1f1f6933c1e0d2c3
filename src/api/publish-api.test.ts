import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packArtifact } from '../releases/index.ts';
import { changedFields } from '../control/index.ts';
import { startHarness } from './test-harness.ts';

async function tgz(t: { after: (fn: () => Promise<void>) => void }): Promise<Uint8Array> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-publish-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'app', 'server.js'), 'console.log("ok")\n');
  return new Uint8Array(await readFile((await packArtifact(path.join(dir, 'app'), dir)).file));
}

const BUILD = 'https://github.com/acme/shop/actions/runs/4242';

test('a publisher publishes with tag, commit and build URL; a retry is "already published"; other provenance is refused, naming it', async (t) => {
  const h = await startHarness();
  try {
    const up = await h.request('/api/artifacts', {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.publisher}`, 'content-type': 'application/gzip' },
      body: await tgz(t),
      duplex: 'half',
    } as RequestInit);
    assert.equal(up.status, 201, 'a publisher uploads');
    const artifact = (await up.json()) as { digest: string; size: number };
    const spec = { app: 'shop', version: '1.2.0', artifact, start: 'node server.js', commit: 'a1b2c3d', tag: 'v1.2.0', buildUrl: BUILD };

    const first = await h.call('publisher', 'POST', '/api/releases', spec);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual([first.body.created, first.body.createdBy, first.body.spec.tag, first.body.spec.buildUrl], [true, 'a-publisher', 'v1.2.0', BUILD]);
    const retry = await h.call('publisher', 'POST', '/api/releases', spec);
    assert.deepEqual([retry.status, retry.body.created], [200, false], 'same content, same provenance: already published');

    const rebuilt = await h.call('publisher', 'POST', '/api/releases', { ...spec, buildUrl: `${BUILD}9` });
    assert.equal(rebuilt.status, 409);
    assert.equal(rebuilt.body.code, 'RELEASE_EXISTS');
    assert.deepEqual(rebuilt.body.details.fields, ['buildUrl']);
    assert.match(rebuilt.body.message, /\(buildUrl differs; it was published from commit a1b2c3d, tag v1\.2\.0, build https:\/\/github\.com\/acme\/shop\/actions\/runs\/4242\)/);

    const mismatch = await h.call('publisher', 'POST', '/api/releases', { ...spec, version: '1.3.0' });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.code, 'MANIFEST_INVALID');
    assert.match(mismatch.body.message, /tag: "v1\.2\.0" does not name version 1\.3\.0/);

    const entries = (await h.call('admin', 'GET', '/api/audit?action=release.publish')).body.items;
    assert.equal(entries.length, 1, 'the retry and the refusals audit nothing');
    assert.deepEqual([entries[0].actor, entries[0].details.tag, entries[0].details.commit, entries[0].details.buildUrl], ['a-publisher', 'v1.2.0', 'a1b2c3d', BUILD]);
  } finally {
    await h.close();
  }
});

test('changedFields names the top-level fields that differ, absent and null alike', () => {
  assert.deepEqual(changedFields({ a: 1, b: { x: [1] }, c: 'k' }, { a: 1, b: { x: [2] }, d: 'n' }), ['b', 'c', 'd']);
  assert.deepEqual(changedFields({ a: 1, tag: undefined }, { a: 1 }), []);
});
