import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { DEFAULT_TEST_TIMEOUT_MS, loadManifest, parseReleaseSpec, releaseDigest } from './index.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;
const body = (tests?: unknown) => ({
  app: 'hello',
  version: '1.1.0',
  artifact: { digest: DIGEST, size: 1 },
  start: 'node server.js',
  ...(tests === undefined ? {} : { tests }),
});

function issues(run: () => unknown): FieldIssue[] {
  try {
    run();
  } catch (err) {
    assert.ok(isCutoverError(err));
    assert.equal(err.code, 'MANIFEST_INVALID');
    return err.details['issues'] as FieldIssue[];
  }
  return assert.fail('expected MANIFEST_INVALID');
}

test('an API body keeps its tests, with the default timeout, and leaves them out when there are none', () => {
  const spec = parseReleaseSpec(body({ smoke: { command: 'npm run smoke' }, verify: { command: 'npm run e2e', timeoutMs: 5000, artifact: OTHER } }));
  assert.deepEqual(spec.tests, {
    smoke: { command: 'npm run smoke', timeoutMs: DEFAULT_TEST_TIMEOUT_MS },
    verify: { command: 'npm run e2e', timeoutMs: 5000, artifact: OTHER },
  });
  assert.equal('tests' in parseReleaseSpec(body()), false);
  // An empty mapping is no tests: it hashes like a release without the key.
  assert.equal(releaseDigest(parseReleaseSpec(body({}))), releaseDigest(parseReleaseSpec(body())));
});

test('bad tests in an API body are named by path, every one at once', () => {
  const found = issues(() =>
    parseReleaseSpec(body({ smoke: { command: ' ', timeoutMs: 10 }, verify: { command: 'x', artifact: 'latest' }, load: { command: 'k6' } })),
  );
  const paths = found.map((i) => i.path).sort();
  assert.deepEqual(paths, ['tests.load', 'tests.smoke.command', 'tests.smoke.timeoutMs', 'tests.verify.artifact']);
  assert.match(found.find((i) => i.path === 'tests.verify.artifact')!.message, /sha256:/);
  assert.ok(found.find((i) => i.path === 'tests.load'));
});

test('a manifest takes tests with human durations and reports a bad one with its line', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-tests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'app'));
  const file = path.join(dir, 'release.yml');
  const head = 'app: hello\nversion: 1.2.0\nartifact: ./app\nstart: node server.js\n';
  await writeFile(file, `${head}tests:\n  smoke:\n    command: npm run smoke\n    timeout: 2m\n  verify:\n    command: npm run e2e\n`);
  const loaded = await loadManifest(file);
  assert.deepEqual(loaded.spec.tests, {
    smoke: { command: 'npm run smoke', timeoutMs: 120_000 },
    verify: { command: 'npm run e2e', timeoutMs: DEFAULT_TEST_TIMEOUT_MS },
  });
  await writeFile(file, `${head}tests:\n  smoke:\n    command: npm run smoke\n    timeout: soon\n`);
  const err = await loadManifest(file).then(() => assert.fail('expected MANIFEST_INVALID'), (e: unknown) => e);
  assert.ok(isCutoverError(err));
  const [issue] = err.details['issues'] as (FieldIssue & { line?: number })[];
  assert.equal(issue?.path, 'tests.smoke.timeout');
  assert.match(issue!.message, /duration/);
  assert.match(err.message, /release\.yml:8/);
});

test('releaseArtifacts: the release artifact, then each test artifact, once', async () => {
  const { releaseArtifacts } = await import('./index.ts');
  assert.deepEqual(releaseArtifacts({ artifact: { digest: DIGEST } }), [DIGEST]);
  assert.deepEqual(
    releaseArtifacts({ artifact: { digest: DIGEST }, tests: { smoke: { artifact: OTHER }, verify: { artifact: OTHER } } }),
    [DIGEST, OTHER],
  );
});
