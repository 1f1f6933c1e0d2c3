import semver from 'semver';

/**
 * Orders two release versions the way node-semver does (pre-releases before their release,
 * numeric identifiers numerically). Both must be valid versions; build metadata is ignored.
 */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

// A pre-release identifier like `beta10` or `rc-2` compares as a string, so `beta10` sorts
// before `beta2`. Writing the counter as its own identifier (`beta.10`) sorts numerically.
const GLUED_COUNTER = /^([A-Za-z][A-Za-z-]*?)-?(\d+)$/;

/**
 * Returns why `value` is not an acceptable release version, or `undefined` when it is.
 * Stricter than semver itself: no leading `v`/`=`, no surrounding spaces, no build metadata
 * (ignored by ordering), and no pre-release counters glued to letters. The message says what to write instead.
 */
export function versionProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a version string like "1.2.3" (quote it in YAML)';
  if (semver.valid(value) === value) {
    const dash = value.indexOf('-');
    if (dash === -1) return undefined;
    const ids = value.slice(dash + 1).split('.');
    if (!ids.some((id) => GLUED_COUNTER.test(id))) return undefined;
    const fixed = ids.map((id) => id.replace(GLUED_COUNTER, '$1.$2')).join('.');
    return `write the pre-release counter as its own identifier: "${value.slice(0, dash)}-${fixed}" (otherwise beta10 sorts before beta2)`;
  }
  const plus = value.indexOf('+');
  if (plus !== -1 && semver.valid(value) === value.slice(0, plus)) {
    // semver ignores build metadata when ordering, so 1.2.3+a and 1.2.3+b would be two releases
    // that compare equal. The commit belongs in the manifest's `commit` field.
    return `remove the build metadata: write "${value.slice(0, plus)}" (put the commit in "commit")`;
  }
  const trimmed = value.trim();
  if (/^[vV=]/.test(trimmed) && semver.valid(trimmed.slice(1)) === trimmed.slice(1)) {
    return `remove the leading "${trimmed[0]}": write "${trimmed.slice(1)}"`;
  }
  if (trimmed !== value && semver.valid(trimmed) === trimmed) return `remove the surrounding spaces: write "${trimmed}"`;
  return 'must be a strict semver version like "1.2.3" or "1.2.0-beta.2"';
}
