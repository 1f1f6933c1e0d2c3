import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { isCutoverError } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { compareVersions, loadManifest, parseReleaseSpec, releaseDigest, versionProblem } from './index.ts';
import type { ReleaseSpec } from './index.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function apiBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { app: 'hello', version: '1.1.0', artifact: { digest: DIGEST, size: 1234 }, start: 'node server.js', ...overrides };
}

function specIssues(input: unknown): FieldIssue[] {
  try {
    parseReleaseSpec(input);
  } catch (err) {
    assert.ok(isCutoverError(err));
    assert.equal(err.code, 'MANIFEST_INVALID');
    return err.details['issues'] as FieldIssue[];
  }
  return assert.fail('expected MANIFEST_INVALID');
}

test('parseReleaseSpec accepts an API body and fills the defaults', () => {
  const spec = parseReleaseSpec(apiBody({ env: { GREETING: 'hi', N: 2 }, features: [{ key: 'greeting', title: 'Greets' }] }));
  assert.deepEqual(spec, {
    app: 'hello',
    version: '1.1.0',
    artifact: { digest: DIGEST, size: 1234 },
    start: 'node server.js',
    health: { path: '/', intervalMs: 1000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
    deployTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    env: { GREETING: 'hi', N: '2' },
    components: [{ name: 'hello', version: '1.1.0' }],
    features: [{ key: 'greeting', title: 'Greets' }],
    migrations: [],
    notes: '',
  });
});

test('parseReleaseSpec lists every problem by path', () => {
  const issues = specIssues(
    apiBody({
      app: 'Hello',
      version: 'v1.0.0',
      artifact: { digest: 'md5:abc', size: -1 },
      start: undefined,
      health: { intervalMs: 0, unhealthyThreshold: 1.5, extra: true },
      deployTimeoutMs: '60s',
      env: { PORT: '80' },
      components: [{ name: 'web', version: '1.0.0' }, { name: 'web', version: '1.0.0' }],
      features: [{ key: 'a', title: '' }, { key: 'a', title: 'A' }],
      buildUrl: 'ftp://example.com',
      colour: 'blue',
    }),
  );
  assert.deepEqual(issues.map((i) => i.path).sort(), [
    'app',
    'artifact.digest',
    'artifact.size',
    'buildUrl',
    'colour',
    'components[1].name',
    'deployTimeoutMs',
    'env.PORT',
    'features[0].title',
    'features[1].key',
    'health.extra',
    'health.intervalMs',
    'health.unhealthyThreshold',
    'start',
    'version',
  ]);
});

test('parseReleaseSpec refuses a body that is not an object', () => {
  assert.deepEqual(specIssues('nope').map((i) => i.path), ['']);
  assert.deepEqual(specIssues(null).map((i) => i.path), ['']);
});

test('what loadManifest produces passes the API schema unchanged (CLI and server agree)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-spec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'build'));
  const file = path.join(dir, 'release.yml');
  await writeFile(
    file,
    'app: hello\nversion: 1.0.0\nartifact: build\nstart: node server.js\nhealth: { interval: 250ms }\nenv: { A: 1 }\ncommit: abc1234\nfeatures: [{ key: x, title: X }]\n',
  );
  const { spec } = await loadManifest(file);
  const full: ReleaseSpec = { ...spec, artifact: { digest: DIGEST, size: 10 } };
  assert.deepEqual(parseReleaseSpec(JSON.parse(JSON.stringify(full))), full);
});

test('releaseDigest is stable under key order and changes with content', () => {
  const a = parseReleaseSpec(apiBody({ env: { A: '1', B: '2' } }));
  const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as ReleaseSpec;
  reordered.env = { B: '2', A: '1' };
  reordered.health = { unhealthyThreshold: 3, healthyThreshold: 1, timeoutMs: 1000, intervalMs: 1000, path: '/' };
  assert.equal(releaseDigest(reordered), releaseDigest(a));
  assert.match(releaseDigest(a), /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(releaseDigest({ ...a, notes: 'changed' }), releaseDigest(a));
  assert.notEqual(releaseDigest({ ...a, artifact: { digest: `sha256:${'cd'.repeat(32)}`, size: 1234 } }), releaseDigest(a));
});

test('releaseDigest ignores key order for any env (property)', () => {
  const base = parseReleaseSpec(apiBody());
  fc.assert(
    fc.property(fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string()), (env) => {
      const reversed = Object.fromEntries(Object.entries(env).reverse());
      assert.equal(releaseDigest({ ...base, env }), releaseDigest({ ...base, env: reversed }));
    }),
  );
});

test('compareVersions follows semver order, pre-releases numerically', () => {
  const sorted = ['0.9.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta.2', '1.0.0-beta.10', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];
  const shuffled = [...sorted].reverse();
  assert.deepEqual(shuffled.sort(compareVersions), sorted);
  assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
});

test('versionProblem accepts strict semver and explains the rest', () => {
  for (const ok of ['0.0.1', '1.2.0-beta.2', '10.20.30-rc.1', '1.0.0-x-y.7']) assert.equal(versionProblem(ok), undefined, ok);
  assert.match(versionProblem('v1.0.0')!, /remove the leading "v"/);
  assert.match(versionProblem('1.2.0-beta10')!, /"1\.2\.0-beta\.10"/);
  assert.match(versionProblem('1.2.0-rc-2')!, /"1\.2\.0-rc\.2"/);
  assert.match(versionProblem('1.2')!, /strict semver/);
  assert.match(versionProblem(' 1.2.3')!, /surrounding spaces/);
  assert.match(versionProblem('1.2.3+sha.abc')!, /remove the build metadata: write "1\.2\.3"/);
  assert.match(versionProblem(1.1)!, /version string/);
});

test('parseReleaseSpec: migrations and component artifacts, checked by path', () => {
  const spec = parseReleaseSpec(
    apiBody({
      components: [{ name: 'web', version: '1.1.0', artifact: 'registry.example.com/web@sha256:abc' }],
      migrations: [{ id: '0007_add_orders', description: 'orders' }, { id: '0008.b-c' }],
    }),
  );
  assert.deepEqual(spec.components, [{ name: 'web', version: '1.1.0', artifact: 'registry.example.com/web@sha256:abc' }]);
  assert.deepEqual(spec.migrations, [{ id: '0007_add_orders', description: 'orders' }, { id: '0008.b-c' }]);
  const issues = specIssues(
    apiBody({
      components: [{ name: 'web', version: '1.1.0', artifact: ' padded ' }],
      migrations: [{ id: 'a b' }, { id: 'x'.repeat(101) }, { id: 'ok' }, { id: 'ok' }, { description: 'no id' }, 'plain'],
    }),
  );
  // A too-long id also breaks the pattern: one path may carry two messages.
  assert.deepEqual([...new Set(issues.map((i) => i.path))].sort(), [
    'components[0].artifact',
    'migrations[0].id',
    'migrations[1].id',
    'migrations[3].id',
    'migrations[4].id',
    'migrations[5]',
  ]);
  assert.deepEqual(specIssues(apiBody({ migrations: {} })).map((i) => i.path), ['migrations']);
});

test('a release stored before migrations existed parses, and keeps its digest', () => {
  const stored = apiBody();
  const spec = parseReleaseSpec(stored);
  assert.deepEqual(spec.migrations, []);
  // The digest that was computed before the field existed (no `migrations` key at all).
  const { migrations: _m, ...withoutField } = spec;
  assert.equal(releaseDigest(spec), releaseDigest(withoutField as ReleaseSpec));
  assert.notEqual(releaseDigest({ ...spec, migrations: [{ id: '0001_init' }] }), releaseDigest(spec));
  assert.notEqual(
    releaseDigest({ ...spec, components: [{ name: 'hello', version: '1.1.0', artifact: 'x' }] }),
    releaseDigest(spec),
  );
});
