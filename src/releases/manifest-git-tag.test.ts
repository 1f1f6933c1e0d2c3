import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { loadManifest, parseReleaseSpec, releaseDigest } from './index.ts';
import type { LoadManifestOptions } from './index.ts';

async function manifest(t: { after: (fn: () => Promise<void>) => void }, version: string | undefined): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-tag-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'build'));
  const file = path.join(dir, 'release.yml');
  await writeFile(file, `app: shop\n${version === undefined ? '' : `version: ${version}\n`}artifact: build\nstart: node server.js\n`);
  return file;
}

async function refused(file: string, options: LoadManifestOptions): Promise<FieldIssue & { line?: number }> {
  const err = await loadManifest(file, options).then(
    () => assert.fail('expected MANIFEST_INVALID'),
    (e: unknown) => e,
  );
  assert.ok(isCutoverError(err));
  assert.equal(err.code, 'MANIFEST_INVALID');
  const issues = err.details['issues'] as (FieldIssue & { line?: number })[];
  assert.equal(issues.length, 1, JSON.stringify(issues));
  return issues[0]!;
}

test('--git-tag: the tag with or without v must name the version; it is recorded as the release tag', async (t) => {
  const file = await manifest(t, '1.2.0');
  assert.equal((await loadManifest(file, { gitTag: 'v1.2.0' })).spec.tag, 'v1.2.0');
  assert.equal((await loadManifest(file, { gitTag: '1.2.0' })).spec.tag, '1.2.0');
  assert.equal((await loadManifest(file)).spec.tag, undefined, 'no tag given: none recorded');
  assert.equal((await loadManifest(file, { ciTag: 'v7.0.0' })).spec.tag, undefined, "the CI's tag alone is not checked");
  const issue = await refused(file, { gitTag: 'v1.3.0' });
  assert.equal(issue.path, 'version');
  assert.match(issue.message, /is "1\.2\.0" but the git tag "v1\.3\.0" names 1\.3\.0/);
  assert.match(issue.message, /release\.yml:2:/, 'located at the version line');
  assert.match((await refused(file, { gitTag: 'nightly' })).message, /the git tag "nightly" does not name a release version/);
});

test('version: ${GIT_TAG} and --version-from-tag: the version is the tag without its v', async (t) => {
  const placeholder = await manifest(t, '${GIT_TAG}');
  const fromGiven = await loadManifest(placeholder, { gitTag: 'v2.1.0' });
  assert.deepEqual([fromGiven.spec.version, fromGiven.spec.tag, fromGiven.spec.components], ['2.1.0', 'v2.1.0', [{ name: 'shop', version: '2.1.0' }]]);
  assert.equal((await loadManifest(placeholder, { ciTag: 'v2.1.1' })).spec.version, '2.1.1', "else the CI job's tag");
  assert.match((await refused(placeholder, {})).message, /is \$\{GIT_TAG\}, but no git tag is known/);
  assert.match((await refused(placeholder, { gitTag: 'v2.1' })).message, /"v2\.1" does not name a release version/);

  const without = await manifest(t, undefined);
  assert.equal((await loadManifest(without, { versionFromTag: true, gitTag: 'v3.0.0-rc.1' })).spec.version, '3.0.0-rc.1');
  assert.match((await refused(without, {})).message, /required: the release version/);
  const stated = await manifest(t, '1.0.0');
  assert.match((await refused(stated, { versionFromTag: true, gitTag: 'v3.0.0' })).message, /is "1\.0\.0" but the git tag "v3\.0\.0" names 3\.0\.0/);
});

test('the API accepts a tag only when it names the version; the tag is part of the digest', () => {
  const base = { app: 'shop', version: '1.2.0', artifact: { digest: `sha256:${'ab'.repeat(32)}`, size: 1 }, start: 'x' };
  assert.equal(parseReleaseSpec({ ...base, tag: 'v1.2.0' }).tag, 'v1.2.0');
  assert.notEqual(releaseDigest(parseReleaseSpec({ ...base, tag: 'v1.2.0' })), releaseDigest(parseReleaseSpec(base)));
  assert.equal(releaseDigest(parseReleaseSpec(base)), releaseDigest(parseReleaseSpec({ ...base })), 'no tag: the digest releases had before');
  assert.throws(
    () => parseReleaseSpec({ ...base, tag: 'v1.3.0' }),
    (e: unknown) => isCutoverError(e) && e.code === 'MANIFEST_INVALID' && /tag: "v1\.3\.0" does not name version 1\.2\.0/.test(e.message),
  );
});
