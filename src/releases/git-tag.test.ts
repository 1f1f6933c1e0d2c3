import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyGitTag, tagNamesVersion, versionOfTag } from './git-tag.ts';

test('versionOfTag: one leading v and refs/tags/ go; anything not a strict semver version is refused, naming the tag', () => {
  assert.deepEqual(versionOfTag('v1.2.0'), { version: '1.2.0' });
  assert.deepEqual(versionOfTag('1.2.0'), { version: '1.2.0' });
  assert.deepEqual(versionOfTag('refs/tags/v2.0.0-rc.1'), { version: '2.0.0-rc.1' });
  for (const bad of ['release-42', 'vv1.2.0', 'v1.2', 'V1.2.0', 'v1.2.0+abc', 'version1.2.0', '']) {
    const r = versionOfTag(bad);
    assert.ok('problem' in r, bad);
    assert.match(r.problem, new RegExp(`the git tag "${bad.replace(/[.+]/g, '\\$&')}" does not name a release version`));
  }
  assert.match((versionOfTag('v1.0.0-beta1') as { problem: string }).problem, /beta\.1/, 'the version rule says what to write');
});

test('applyGitTag: a given tag must name the manifest version, with or without v; the message names both', () => {
  assert.deepEqual(applyGitTag('1.2.0', { gitTag: 'v1.2.0' }), { version: '1.2.0', tag: 'v1.2.0' });
  assert.deepEqual(applyGitTag('1.2.0', { gitTag: '1.2.0' }), { version: '1.2.0', tag: '1.2.0' });
  const r = applyGitTag('1.2.0', { gitTag: 'v1.3.0' });
  assert.ok('problem' in r);
  assert.match(r.problem, /is "1\.2\.0" but the git tag "v1\.3\.0" names 1\.3\.0/);
  assert.ok('problem' in applyGitTag('1.2.0', { gitTag: 'nightly' }), 'a tag that is no version is refused');
  assert.match((applyGitTag('1.2.0', { gitTag: ' ' }) as { problem: string }).problem, /--git-tag is empty: the variable passed is not set/, 'an unset variable is not a skipped check');
});

test('applyGitTag: without --git-tag and without ${GIT_TAG}, the CI tag is neither checked nor recorded', () => {
  assert.deepEqual(applyGitTag('1.2.0', {}), { version: '1.2.0' });
  assert.deepEqual(applyGitTag('1.2.0', { ciTag: 'v9.9.9' }), { version: '1.2.0' });
});

test('applyGitTag: ${GIT_TAG} and --version-from-tag take the version from the tag (given, else the CI one)', () => {
  assert.deepEqual(applyGitTag('${GIT_TAG}', { gitTag: 'v1.4.0' }), { version: '1.4.0', tag: 'v1.4.0' });
  assert.deepEqual(applyGitTag('${GIT_TAG}', { ciTag: 'v1.4.1' }), { version: '1.4.1', tag: 'v1.4.1' });
  assert.deepEqual(applyGitTag('${GIT_TAG}', { gitTag: '1.5.0', ciTag: 'v9.0.0' }), { version: '1.5.0', tag: '1.5.0' }, '--git-tag wins');
  assert.deepEqual(applyGitTag(undefined, { versionFromTag: true, ciTag: 'v2.0.0' }), { version: '2.0.0', tag: 'v2.0.0' });
  assert.deepEqual(applyGitTag('2.0.0', { versionFromTag: true, gitTag: 'v2.0.0' }), { version: '2.0.0', tag: 'v2.0.0' });
  assert.match((applyGitTag('1.0.0', { versionFromTag: true, gitTag: 'v2.0.0' }) as { problem: string }).problem, /is "1\.0\.0" but the git tag "v2\.0\.0"/);
  assert.match((applyGitTag('${GIT_TAG}', {}) as { problem: string }).problem, /is \$\{GIT_TAG\}, but no git tag is known: pass --git-tag/);
  assert.match((applyGitTag(undefined, { versionFromTag: true }) as { problem: string }).problem, /--version-from-tag.*no git tag is known/);
  assert.match((applyGitTag('${GIT_TAG}', { gitTag: 'main' }) as { problem: string }).problem, /the git tag "main" does not name a release version/);
});

test('tagNamesVersion', () => {
  assert.equal(tagNamesVersion('v1.0.0', '1.0.0'), true);
  assert.equal(tagNamesVersion('1.0.0', '1.0.0'), true);
  assert.equal(tagNamesVersion('v1.0.1', '1.0.0'), false);
  assert.equal(tagNamesVersion('latest', '1.0.0'), false);
});

const versions = fc
  .tuple(fc.nat(999), fc.nat(999), fc.nat(999), fc.option(fc.constantFrom('alpha', 'beta.2', 'rc.10', '0.3'), { nil: undefined }))
  .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre ? `-${pre}` : ''}`);

test('applyGitTag (property): a tag names exactly its version, with or without v; any other version is refused naming both', () => {
  fc.assert(
    fc.property(versions, versions, fc.boolean(), (version, other, withV) => {
      const tag = `${withV ? 'v' : ''}${other}`;
      const outcome = applyGitTag(version, { gitTag: tag });
      if (version === other) assert.deepEqual(outcome, { version, tag });
      else {
        assert.ok('problem' in outcome);
        assert.ok(outcome.problem.includes(`"${version}"`) && outcome.problem.includes(`"${tag}"`));
      }
      assert.deepEqual(applyGitTag('${GIT_TAG}', { gitTag: tag }), { version: other, tag }, '${GIT_TAG} is the tag without its v');
      assert.equal(tagNamesVersion(tag, version), version === other);
    }),
  );
});
