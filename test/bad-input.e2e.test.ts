import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE, cutover, load, localToken, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bad input through the CLI, as a user makes it, while an instance serves under load: each gets a
 * clear error and a non-zero exit, changes nothing, and drops no request.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let traffic: ReturnType<typeof load>;
let api: string;

const snapshot = async () => {
  const [releases, instances] = await Promise.all([cutover(data.dir, ['release', 'list']), cutover(data.dir, ['instance', 'list'])]);
  return JSON.stringify([releases.json, instances.json]);
};

before(async () => {
  data = await tempDir('bad');
  const p = await ports();
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
  api = up.info.api;
  for (const v of ['1.0.0', '1.1.0']) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  const back = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  traffic = load(p.http, 'web.test', 8);
});

after(async () => {
  const result = await traffic?.stop();
  await up?.stop();
  await data?.cleanup();
  assert.deepEqual(result?.failed ?? [], [], 'no request failed during any of the bad input');
  assert.ok(result.samples.every((s) => ['1.0.0', '1.2.0'].includes(s.version)), 'only versions that were deployed served');
});

test('an invalid manifest names every bad field and publishes nothing', async () => {
  const before = await snapshot();
  const file = join(data.dir, 'bad.yml');
  await writeFile(file, 'app: Hello World\nversion: v1.2\nstart: ""\nhealth:\n  interval: soon\nfeatures:\n  - key: a\n    title: A\n  - key: a\n    title: B\ncolour: blue\n');
  const r = await cutover(data.dir, ['release', 'publish', file]);
  assert.equal(r.code, 2);
  assert.equal(r.json.error.code, 'MANIFEST_INVALID');
  const paths = r.json.error.details.issues.map((i: { path: string }) => i.path);
  for (const p of ['app', 'version', 'start', 'health.interval', 'features[1].key', 'colour', 'artifact']) {
    assert.ok(paths.includes(p), `names ${p} (got ${paths.join(', ')})`);
  }
  assert.equal(await snapshot(), before);
});

test('unknown app, instance and version are refused by name', async () => {
  const before = await snapshot();
  const app = await cutover(data.dir, ['instance', 'create', 'x', '--app', 'nope', '--host', 'x.test']);
  assert.equal(app.code, 3);
  assert.equal(app.json.error.code, 'APP_NOT_FOUND');
  const inst = await cutover(data.dir, ['deploy', 'ghost', '1.0.0']);
  assert.equal(inst.json.error.code, 'INSTANCE_NOT_FOUND');
  assert.equal(inst.code, 3);
  const ver = await cutover(data.dir, ['deploy', 'web', '9.9.9']);
  assert.equal(ver.json.error.code, 'RELEASE_NOT_FOUND');
  assert.match(ver.json.error.message, /1\.1\.0/, 'lists what is published');
  const show = await cutover(data.dir, ['release', 'show', '4.0.0']);
  assert.equal(show.json.error.code, 'RELEASE_NOT_FOUND');
  const badHost = await cutover(data.dir, ['instance', 'create', 'y', '--app', 'hello', '--host', 'web.test']);
  assert.equal(badHost.json.error.code, 'HOST_IN_USE');
  assert.equal(await snapshot(), before);
});

test('republishing: identical content is idempotent, different content is RELEASE_EXISTS', async () => {
  const before = await snapshot();
  const same = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.0.0')]);
  assert.equal(same.code, 0);
  assert.equal(same.json.created, false);
  const other = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.0.0', 'notes: sneaky change\n')]);
  assert.equal(other.code, 4);
  assert.equal(other.json.error.code, 'RELEASE_EXISTS');
  assert.equal(await snapshot(), before);
});

test('a missing or wrong token gets 401 and changes nothing', async () => {
  const before = await snapshot();
  const none = await fetch(`${api}/api/instances/web/rollback`, { method: 'POST' });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { code: string }).code, 'UNAUTHORIZED');
  const wrong = await cutover(data.dir, ['rollback', 'web'], { CUTOVER_URL: api, CUTOVER_TOKEN: 'cut_wrong' });
  assert.equal(wrong.code, 5);
  assert.equal(wrong.json.error.code, 'UNAUTHORIZED');
  assert.equal(await snapshot(), before);
});

test('a second deployment while one runs is INSTANCE_LOCKED, naming the holder', async () => {
  await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.2.0', 'env:\n  STARTUP_DELAY_MS: "6000"\n')]);
  const first = await cutover(data.dir, ['deploy', 'web', '1.2.0']);
  assert.equal(first.code, 0, first.stdout);
  const second = await cutover(data.dir, ['deploy', 'web', '1.1.0']);
  assert.equal(second.code, 4);
  assert.equal(second.json.error.code, 'INSTANCE_LOCKED');
  assert.match(second.json.error.message, new RegExp(`admin \\(${first.json.id}\\)`));
  const done = await waitFor('the first deployment to finish', async () => {
    const s = await cutover(data.dir, ['status', 'web']);
    return s.json.lastDeployment?.status !== 'running' && s.json;
  }, 30_000);
  assert.equal(done.currentVersion, '1.2.0');
  // Back to 1.0.0 for the next tests: a plain deployment.
  const back = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
});

test('an app that never gets healthy fails after the deploy timeout; the old slot keeps serving, the new one is stopped', async () => {
  await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.3.0', 'deployTimeout: 1500ms\nenv:\n  FAIL_HEALTH: "1"\n')]);
  const r = await cutover(data.dir, ['deploy', 'web', '1.3.0', '--wait']);
  assert.equal(r.code, 7);
  assert.equal(r.json.error.code, 'DEPLOYMENT_FAILED');
  assert.match(r.json.error.message, /GET \/healthz → 500/);
  assert.match(r.json.error.message, /1\.0\.0 still serves/);
  const s = await cutover(data.dir, ['status', 'web']);
  assert.equal(s.json.currentVersion, '1.0.0');
  const idle = s.json.activeColor === 'blue' ? 'green' : 'blue';
  assert.equal(s.json.slots[idle], null, 'the failed slot is gone from the instance');
  assert.ok(!s.json.runtime.slots.some((x: { color: string; state: string }) => x.color === idle && x.state !== 'stopped'), 'its process is stopped');
});

test('an app that exits at start fails with its exit code and last output', async () => {
  await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.4.0', `start: 'node -e "console.error(\\"boom: DATABASE_URL is not set\\"); process.exit(3)"'\n`)]);
  const r = await cutover(data.dir, ['deploy', 'web', '1.4.0', '--wait']);
  assert.equal(r.code, 7);
  assert.match(r.json.error.message, /code 3/);
  assert.ok(r.json.error.details.logTail.some((l: string) => l.includes('boom: DATABASE_URL is not set')));
  const s = await cutover(data.dir, ['status', 'web']);
  assert.equal(s.json.currentVersion, '1.0.0');
  assert.equal(s.json.lastDeployment.status, 'failed');
});

test('an uploaded artifact can be fetched back by its digest', async () => {
  const token = (await localToken(api))!;
  const { items } = (await (await fetch(`${api}/api/releases?app=hello`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    items: { spec: { artifact: { digest: string; size: number } } }[];
  };
  const { digest, size } = items[0]!.spec.artifact;
  const res = await fetch(`${api}/api/artifacts/${digest}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, size);
});

test('an artifact outside the manifest is refused unless allowed; a raw upload that is not a .tgz, or a huge JSON body, is refused over HTTP', async () => {
  const file = join(data.dir, 'outside.yml');
  // No extends: the example app lies outside every directory of the manifest's chain.
  await writeFile(file, `app: hello\nversion: 1.9.0\nstart: node server.js\nartifact: ${join(EXAMPLE, 'app')}\n`);
  const before = await snapshot();
  const r = await cutover(data.dir, ['release', 'publish', file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.json.error.code, 'MANIFEST_INVALID');
  assert.equal(r.json.error.details.issues[0].path, 'artifact');
  assert.match(r.json.error.details.issues[0].message, /is outside the manifest's directory.*--allow-artifact-outside/);
  assert.equal(await snapshot(), before);
  const allowed = await cutover(data.dir, ['release', 'publish', file, '--allow-artifact-outside']);
  assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
  const published = await snapshot();

  const token = (await localToken(api))!;
  const zeros = await fetch(`${api}/api/artifacts`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: new Uint8Array(1024 * 1024) });
  assert.equal(zeros.status, 400);
  assert.equal(((await zeros.json()) as { code: string }).code, 'ARTIFACT_INVALID');
  const huge = await fetch(`${api}/api/instances`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'x', pad: 'x'.repeat(2 * 1024 * 1024) }),
  });
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as { code: string }).code, 'BODY_TOO_LARGE');
  assert.equal(await snapshot(), published);
});
