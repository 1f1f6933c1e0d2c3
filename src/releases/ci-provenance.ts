/** Where a release was built, as the CI says: the commit, the tag the job runs for, the build's URL. */
export interface CiProvenance {
  commit?: string;
  tag?: string;
  buildUrl?: string;
}

type Env = Record<string, string | undefined>;

const set = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

// A build URL that is not http(s) would make the publish fail on a value the user never wrote: leave it out.
const httpUrl = (v: string | undefined): string | undefined => (v !== undefined && /^https?:\/\/\S+$/.test(v) ? v : undefined);

function compact(p: CiProvenance): CiProvenance {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as CiProvenance;
}

/**
 * Reads the usual CI variables (pure: the caller passes the environment). GitHub Actions:
 * `GITHUB_SHA`, `GITHUB_REF_NAME` on a tag push, and the run's URL from `GITHUB_SERVER_URL`,
 * `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`. GitLab CI and others with the generic `CI_*`:
 * `CI_COMMIT_SHA`, `CI_COMMIT_TAG`, `CI_PIPELINE_URL` else `CI_JOB_URL`.
 *
 * The build URL is the run's or the pipeline's, not the job's: re-running a job keeps it (GitHub
 * keeps `GITHUB_RUN_ID` on a re-run; a retried GitLab job gets a new job URL in the same
 * pipeline), so a retried publish sends the identical release and is "already published".
 */
export function ciProvenance(env: Env): CiProvenance {
  if (set(env.GITHUB_ACTIONS) === 'true') {
    const server = set(env.GITHUB_SERVER_URL);
    const repo = set(env.GITHUB_REPOSITORY);
    const run = set(env.GITHUB_RUN_ID);
    return compact({
      commit: set(env.GITHUB_SHA),
      tag: set(env.GITHUB_REF_TYPE) === 'tag' ? set(env.GITHUB_REF_NAME) : undefined,
      buildUrl: server && repo && run ? httpUrl(`${server.replace(/\/+$/, '')}/${repo}/actions/runs/${run}`) : undefined,
    });
  }
  // GitLab CI's names; other CIs (Woodpecker, Codeship…) set some of them too.
  return compact({
    commit: set(env.CI_COMMIT_SHA),
    tag: set(env.CI_COMMIT_TAG),
    buildUrl: httpUrl(set(env.CI_PIPELINE_URL)) ?? httpUrl(set(env.CI_JOB_URL)),
  });
}

/**
 * The manifest's spec with the CI's commit and build URL filled in where the manifest says none:
 * what a manifest states on purpose wins. The tag is not taken here: only a checked tag is recorded
 * (`applyGitTag`).
 */
export function withCiProvenance<S extends { commit?: string; buildUrl?: string }>(spec: S, ci: CiProvenance): S {
  return {
    ...spec,
    ...(spec.commit === undefined && ci.commit !== undefined ? { commit: ci.commit } : {}),
    ...(spec.buildUrl === undefined && ci.buildUrl !== undefined ? { buildUrl: ci.buildUrl } : {}),
  };
}
