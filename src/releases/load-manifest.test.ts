import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { loadManifest, parseReleaseSpec, releaseDigest } from './index.ts';
import type { ReleaseSpec } from './index.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-manifest-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function write(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function manifestIssues(file: string): Promise<(FieldIssue & { line?: number })[]> {
  const err = await loadManifest(file).then(
    () => assert.fail('expected MANIFEST_INVALID'),
    (e: unknown) => e,
  );
  assert.ok(isCutoverError(err), `not a CutoverError: ${String(err)}`);
  assert.equal(err.code, 'MANIFEST_INVALID');
  return err.details['issues'] as FieldIssue[];
}

test('a valid manifest loads through an extends chain, deep-merged, with defaults and durations in ms', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'shared', 'dist'), { recursive: true });
  await write(
    dir,
    'shared/base.yml',
    `artifact: ./dist
stopTimeout: 3s
health: { path: /base, timeout: 2s, unhealthyThreshold: 5 }
env: { FROM_BASE: base, OVERRIDDEN: base }
features: [{ key: old, title: Old }]
`,
  );
  await write(
    dir,
    'cutover.yml',
    `extends: ./shared/base.yml
app: hello
start: node server.js
health: { path: /healthz }
env: { OVERRIDDEN: app, RATE: 1.10, ENABLED: true, COUNT: 3 }
features: [{ key: greeting, title: Greets the visitor, description: Says hello }]
`,
  );
  const file = await write(
    dir,
    'app/release.yml',
    `extends: ../cutover.yml
version: 1.1.0
health:
  interval: 500ms
deployTimeout: 2m
notes: first release
commit: abc1234
buildUrl: https://ci.example.com/builds/42
`,
  );
  const { spec, artifactPath } = await loadManifest(file);
  // Declared in shared/base.yml, so resolved against that file's directory.
  assert.equal(artifactPath, path.join(dir, 'shared', 'dist'));
  assert.deepEqual(spec, {
    app: 'hello',
    version: '1.1.0',
    start: 'node server.js',
    health: { path: '/healthz', intervalMs: 500, timeoutMs: 2000, healthyThreshold: 1, unhealthyThreshold: 5 },
    deployTimeoutMs: 120_000,
    stopTimeoutMs: 3000,
    // Numbers and booleans keep the text the user wrote.
    env: { FROM_BASE: 'base', OVERRIDDEN: 'app', RATE: '1.10', ENABLED: 'true', COUNT: '3' },
    components: [{ name: 'hello', version: '1.1.0' }],
    // Arrays replace rather than concatenate.
    features: [{ key: 'greeting', title: 'Greets the visitor', description: 'Says hello' }],
    migrations: [],
    notes: 'first release',
    commit: 'abc1234',
    buildUrl: 'https://ci.example.com/builds/42',
  });
});

test('a minimal manifest gets every default', async (t) => {
  const dir = await tempDir(t);
  await write(dir, 'app.tgz', 'not checked here');
  const file = await write(dir, 'release.yml', 'app: hello\nversion: 2.0.0-rc.1\nartifact: app.tgz\nstart: ./run\n');
  const { spec, artifactPath } = await loadManifest(file);
  assert.equal(artifactPath, path.join(dir, 'app.tgz'));
  assert.deepEqual(spec, {
    app: 'hello',
    version: '2.0.0-rc.1',
    start: './run',
    health: { path: '/', intervalMs: 1000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
    deployTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    env: {},
    components: [{ name: 'hello', version: '2.0.0-rc.1' }],
    features: [],
    migrations: [],
    notes: '',
  });
});

test('an invalid manifest reports every problem by its YAML path in one error', async (t) => {
  const dir = await tempDir(t);
  const file = await write(
    dir,
    'release.yml',
    `app: Hello_World
version: 1.0
artifact: ./missing-build
health:
  interval: soon
  unhealthyThreshold: -1
deploy_timeout: 5s
components:
  - { name: web, version: 1.0.0 }
  - { name: Web!, version: 1.0.0 }
features:
  - { key: greeting, title: Greets }
  - { key: greeting, title: Greets again }
`,
  );
  const issues = await manifestIssues(file);
  assert.deepEqual(issues.map((i) => i.path).sort(), [
    'app',
    'artifact',
    'components[1].name',
    'deploy_timeout',
    'features[1].key',
    'health.interval',
    'health.unhealthyThreshold',
    'start',
    'version',
  ]);
  const byPath = new Map(issues.map((i) => [i.path, i]));
  assert.match(byPath.get('artifact')!.message, new RegExp(`not found: ${path.join(dir, 'missing-build').replaceAll('\\', '\\\\')}`));
  assert.match(byPath.get('deploy_timeout')!.message, /unknown key; did you mean "deployTimeout"\?/);
  assert.match(byPath.get('deploy_timeout')!.message, /release\.yml:7:1\)$/);
  assert.match(byPath.get('health.interval')!.message, /duration/);
  assert.match(byPath.get('features[1].key')!.message, /already used/);
  assert.match(byPath.get('start')!.message, /required/);
  assert.equal(byPath.get('health.unhealthyThreshold')!.line, 6);
  assert.equal(byPath.get('app')!.line, 1);
});

test('version hints: a leading "v" and a counter glued to letters', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'build'));
  const v = await write(dir, 'v.yml', 'app: hello\nversion: v1.0.0\nartifact: build\nstart: x\n');
  const [leading] = await manifestIssues(v);
  assert.equal(leading?.path, 'version');
  assert.match(leading.message, /remove the leading "v": write "1\.0\.0"/);

  const beta = await write(dir, 'beta.yml', 'app: hello\nversion: 1.2.0-beta10\nartifact: build\nstart: x\n');
  const [glued] = await manifestIssues(beta);
  assert.equal(glued?.path, 'version');
  assert.match(glued.message, /"1\.2\.0-beta\.10"/);
});

test('a YAML syntax error names the file, line and column', async (t) => {
  const dir = await tempDir(t);
  const file = await write(dir, 'broken.yml', 'app: hello\nversion: 1.0.0\nstart: [unclosed\nartifact: x\n');
  const err = await loadManifest(file).catch((e: unknown) => e);
  assert.ok(isCutoverError(err));
  assert.equal(err.code, 'MANIFEST_INVALID');
  const issues = err.details['issues'] as (FieldIssue & { line: number; column: number })[];
  assert.ok(issues.length >= 1);
  assert.match(issues[0]!.message, /YAML syntax error in .*broken\.yml at line \d+, column \d+/);
  assert.ok(issues[0]!.line >= 3, `line ${issues[0]!.line}`);
  assert.match(err.message, /broken\.yml/);
});

test('a duplicate YAML key is a syntax error with its line', async (t) => {
  const dir = await tempDir(t);
  const file = await write(dir, 'dup.yml', 'app: hello\napp: again\n');
  const [issue] = await manifestIssues(file);
  assert.match(issue!.message, /line 2, column 1/);
});

test('an extends cycle is reported on extends', async (t) => {
  const dir = await tempDir(t);
  await write(dir, 'a.yml', 'extends: ./b.yml\napp: hello\n');
  await write(dir, 'b.yml', 'extends: ./a.yml\nversion: 1.0.0\n');
  const issues = await manifestIssues(path.join(dir, 'a.yml'));
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.path, 'extends');
  assert.match(issues[0]!.message, /extends cycle: .*a\.yml → .*b\.yml → .*a\.yml/);
});

test('a missing extends file is reported on extends with its resolved path', async (t) => {
  const dir = await tempDir(t);
  const file = await write(dir, 'app/release.yml', 'extends: ../nowhere.yml\napp: hello\n');
  const issues = await manifestIssues(file);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.path, 'extends');
  assert.ok(issues[0]!.message.includes(path.join(dir, 'nowhere.yml')), issues[0]!.message);
});

test('a problem inherited from an extended file is located in that file', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'build'));
  await write(dir, 'cutover.yml', 'app: hello\nstart: x\nhealth:\n  timeout: forever\n');
  const file = await write(dir, 'release.yml', 'extends: cutover.yml\nversion: 1.0.0\nartifact: build\n');
  const issues = (await manifestIssues(file)) as (FieldIssue & { file: string; line: number })[];
  assert.deepEqual(
    issues.map((i) => [i.path, i.file, i.line]),
    [['health.timeout', path.join(dir, 'cutover.yml'), 4]],
  );
});

test('a missing, empty or non-mapping manifest is refused', async (t) => {
  const dir = await tempDir(t);
  const missing = await manifestIssues(path.join(dir, 'nope.yml'));
  assert.match(missing[0]!.message, /file not found/);
  const empty = await manifestIssues(await write(dir, 'empty.yml', '# nothing\n'));
  assert.match(empty[0]!.message, /is empty/);
  const list = await manifestIssues(await write(dir, 'list.yml', '- a\n- b\n'));
  assert.match(list[0]!.message, /not a mapping/);
});

test('a __proto__ key is reported, not merged into the prototype', async (t) => {
  const dir = await tempDir(t);
  const file = await write(dir, 'proto.yml', '__proto__: { start: evil }\napp: hello\nversion: 1.0.0\nartifact: .\n');
  const issues = await manifestIssues(file);
  assert.deepEqual(issues.map((i) => i.path).sort(), ['__proto__', 'start']);
});

test('migrations and component artifacts load from YAML and pass the API schema unchanged', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'build'));
  const file = await write(
    dir,
    'release.yml',
    `app: shop
version: 1.3.0
artifact: build
start: node server.js
components:
  - name: web
    version: 1.3.0
    artifact: registry.example.com/shop-web@sha256:${'c'.repeat(64)}
  - { name: worker, version: 1.1.0 }
migrations:
  - id: 0007_add_orders
    description: Adds the orders table
  - id: 0008_index_orders
`,
  );
  const { spec } = await loadManifest(file);
  assert.deepEqual(spec.components, [
    { name: 'web', version: '1.3.0', artifact: `registry.example.com/shop-web@sha256:${'c'.repeat(64)}` },
    { name: 'worker', version: '1.1.0' },
  ]);
  assert.deepEqual(spec.migrations, [{ id: '0007_add_orders', description: 'Adds the orders table' }, { id: '0008_index_orders' }]);
  const full: ReleaseSpec = { ...spec, artifact: { digest: `sha256:${'ab'.repeat(32)}`, size: 1 } };
  assert.deepEqual(parseReleaseSpec(JSON.parse(JSON.stringify(full))), full);
});

test('publishing the identical YAML twice gives the same digest', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'build'));
  const file = await write(
    dir,
    'release.yml',
    'app: shop\nversion: 1.0.0\nartifact: build\nstart: x\nmigrations: [{ id: "0001_init" }]\ncomponents: [{ name: web, version: 1.0.0, artifact: web.tgz }]\n',
  );
  const digestOf = async () => {
    const { spec } = await loadManifest(file);
    return releaseDigest(parseReleaseSpec({ ...spec, artifact: { digest: `sha256:${'ab'.repeat(32)}`, size: 1 } }));
  };
  assert.equal(await digestOf(), await digestOf());
});

test('bad migrations and component artifacts are reported with file:line:column', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'build'));
  const file = await write(
    dir,
    'release.yml',
    `app: shop
version: 1.0.0
artifact: build
start: x
components:
  - { name: web, version: 1.0.0, artifact: "${'x'.repeat(513)}" }
  - { name: api, version: 1.0.0, artifact: "" }
migrations:
  - id: 0001_init
  - id: _bad
  - id: 0001_init
  - { id: 0002_x, descripton: typo }
  - 0003_plain
`,
  );
  const issues = (await manifestIssues(file)) as (FieldIssue & { line: number; column: number })[];
  const byPath = new Map(issues.map((i) => [i.path, i]));
  assert.deepEqual([...byPath.keys()].sort(), [
    'components[0].artifact',
    'components[1].artifact',
    'migrations[1].id',
    'migrations[2].id',
    'migrations[3].descripton',
    'migrations[4]',
  ]);
  assert.match(byPath.get('components[0].artifact')!.message, /at most 512 characters/);
  assert.match(byPath.get('components[1].artifact')!.message, /non-empty reference/);
  assert.match(byPath.get('migrations[1].id')!.message, /must start with a letter or digit .*release\.yml:10:9\)$/);
  assert.match(byPath.get('migrations[2].id')!.message, /"0001_init" is already used by item 0; ids must be unique/);
  assert.equal(byPath.get('migrations[2].id')!.line, 11);
  assert.match(byPath.get('migrations[3].descripton')!.message, /did you mean "description"\?/);
  assert.match(byPath.get('migrations[4]')!.message, /mapping with id and an optional description .*release\.yml:13:5\)$/);
});

test('a duration without a unit is accepted as milliseconds with a warning naming the key and line', async (t) => {
  const dir = await tempDir(t);
  await write(dir, 'app.tgz', 'not checked here');
  const file = await write(dir, 'release.yml', 'app: hello\nversion: 1.0.0\nartifact: app.tgz\nstart: ./run\ndeployTimeout: 30\nstopTimeout: 0\nhealth:\n  interval: 5s\n');
  const loaded = await loadManifest(file);
  assert.equal(loaded.spec.deployTimeoutMs, 30);
  assert.equal(loaded.warnings?.length, 1, String(loaded.warnings));
  assert.match(loaded.warnings![0]!, /^deployTimeout: "30" has no unit; write 30s or 30ms \(.*release\.yml:5:\d+\); read as milliseconds/);
  const clean = await loadManifest(await write(dir, 'ok.yml', 'app: hello\nversion: 1.0.0\nartifact: app.tgz\nstart: ./run\ndeployTimeout: 30s\n'));
  assert.equal(clean.warnings, undefined);
});
