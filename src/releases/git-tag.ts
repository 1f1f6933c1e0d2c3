import { versionProblem } from './compare-versions.ts';

/** A manifest's `version: ${GIT_TAG}`: the version is the git tag's. */
export const TAG_PLACEHOLDER = '${GIT_TAG}';

/** Where the tag comes from: `--git-tag`, else the CI's own tag variable; and `--version-from-tag`. */
export interface TagInput {
  gitTag?: string | undefined;
  /** The tag the CI job runs for (GitHub `GITHUB_REF_NAME` on a tag push, GitLab `CI_COMMIT_TAG`). */
  ciTag?: string | undefined;
  versionFromTag?: boolean | undefined;
}

/** The manifest's version with the tag applied and the tag to record, or why they cannot agree. */
export type TagOutcome = { version: unknown; tag?: string } | { problem: string };

/**
 * The release version a git tag names: the tag without `refs/tags/` and one leading `v`
 * (`v1.2.0` and `1.2.0` both name 1.2.0). Anything else must be a release version as it is.
 */
export function versionOfTag(tag: string): { version: string } | { problem: string } {
  const version = tag.replace(/^refs\/tags\//, '').replace(/^v(?=\d)/, '');
  const problem = versionProblem(version);
  if (problem === undefined) return { version };
  return { problem: `the git tag "${tag}" does not name a release version (tag like v1.2.3 or 1.2.3; "${version}" ${problem})` };
}

/**
 * Applies the git tag to a manifest's version (pure). With `${GIT_TAG}` or `versionFromTag` the
 * version is the tag's; otherwise, when a tag is given, the version must be the one it names, so
 * the code's tag and the artifact's version are one. No tag given and none needed: unchanged.
 */
export function applyGitTag(version: unknown, input: TagInput): TagOutcome {
  // An empty --git-tag is a variable that is not set (a branch build): refuse rather than skip the check.
  if (input.gitTag !== undefined && input.gitTag.trim() === '') {
    return { problem: '--git-tag is empty: the variable passed is not set in this build (GITHUB_REF_NAME, or CI_COMMIT_TAG, which GitLab sets only for tags); publish from a job that runs for a tag' };
  }
  const placeholder = version === TAG_PLACEHOLDER;
  const fromTag = placeholder || input.versionFromTag === true;
  const tag = input.gitTag ?? (fromTag ? input.ciTag : undefined);
  if (tag === undefined) {
    if (!fromTag) return { version };
    const why = placeholder ? `is ${TAG_PLACEHOLDER}` : 'comes from the tag (--version-from-tag)';
    return { problem: `${why}, but no git tag is known: pass --git-tag "$GITHUB_REF_NAME" (or "$CI_COMMIT_TAG"), or run it in a CI job for a tag` };
  }
  const named = versionOfTag(tag);
  if ('problem' in named) return named;
  if (placeholder || (fromTag && version === undefined) || version === named.version) return { version: named.version, tag };
  if (typeof version !== 'string') return { version, tag }; // the schema reports a version of the wrong type
  return {
    problem: `is "${version}" but the git tag "${tag}" names ${named.version}; make them agree: tag the commit v${version}, or change the manifest's version (or write version: ${TAG_PLACEHOLDER})`,
  };
}

/** Whether `tag` names `version` (API check of a published release's `tag`). */
export function tagNamesVersion(tag: string, version: string): boolean {
  const named = versionOfTag(tag);
  return 'version' in named && named.version === version;
}
