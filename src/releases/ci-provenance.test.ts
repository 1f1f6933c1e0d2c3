import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ciProvenance, withCiProvenance } from './ci-provenance.ts';

test('GitHub Actions: commit, the tag on a tag push only, and the run URL (kept by a re-run)', () => {
  const env = {
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: 'a1b2c3d4e5f6',
    GITHUB_REF_TYPE: 'tag',
    GITHUB_REF_NAME: 'v1.2.0',
    GITHUB_SERVER_URL: 'https://github.com/',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '2',
  };
  assert.deepEqual(ciProvenance(env), { commit: 'a1b2c3d4e5f6', tag: 'v1.2.0', buildUrl: 'https://github.com/acme/shop/actions/runs/4242' });
  assert.deepEqual(ciProvenance({ ...env, GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main', GITHUB_RUN_ID: '' }), { commit: 'a1b2c3d4e5f6' });
});

test('GitLab CI: CI_COMMIT_SHA, CI_COMMIT_TAG, the pipeline URL before the job URL', () => {
  const env = {
    GITLAB_CI: 'true',
    CI_COMMIT_SHA: 'ffee00',
    CI_COMMIT_TAG: 'v3.0.0',
    CI_JOB_URL: 'https://gitlab.example.com/acme/shop/-/jobs/77',
    CI_PIPELINE_URL: 'https://gitlab.example.com/acme/shop/-/pipelines/12',
  };
  assert.deepEqual(ciProvenance(env), { commit: 'ffee00', tag: 'v3.0.0', buildUrl: 'https://gitlab.example.com/acme/shop/-/pipelines/12' });
  const { CI_PIPELINE_URL: _p, CI_COMMIT_TAG: _t, ...jobOnly } = env;
  assert.deepEqual(ciProvenance(jobOnly), { commit: 'ffee00', buildUrl: 'https://gitlab.example.com/acme/shop/-/jobs/77' });
});

test('another CI with the generic CI_* variables; no CI at all gives nothing', () => {
  assert.deepEqual(ciProvenance({ CI: 'true', CI_COMMIT_SHA: 'abc', CI_JOB_URL: 'https://ci.example.com/1' }), { commit: 'abc', buildUrl: 'https://ci.example.com/1' });
  assert.deepEqual(ciProvenance({ CI: 'true', HOME: '/root' }), {});
  assert.deepEqual(ciProvenance({ CI_COMMIT_SHA: 'abc', CI_PIPELINE_URL: 'not a url', CI_JOB_URL: 'https://ci.example.com/2' }), { commit: 'abc', buildUrl: 'https://ci.example.com/2' }, 'a build URL that is not http(s) is left out');
  assert.deepEqual(ciProvenance({}), {});
});

test('withCiProvenance: the CI fills in commit and build URL; what the manifest says wins; the tag is never taken', () => {
  const ci = { commit: 'c1', tag: 'v1.0.0', buildUrl: 'https://ci.example.com/1' };
  const bare: { app: string; commit?: string } = { app: 'shop' };
  assert.deepEqual(withCiProvenance(bare, ci), { app: 'shop', commit: 'c1', buildUrl: 'https://ci.example.com/1' });
  assert.deepEqual(withCiProvenance({ ...bare, commit: 'mine' }, ci), { app: 'shop', commit: 'mine', buildUrl: 'https://ci.example.com/1' });
  assert.deepEqual(withCiProvenance(bare, {}), { app: 'shop' });
});
