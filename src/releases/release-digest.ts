import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/index.ts';
import { DIGEST_PATTERN } from './release-fields.ts';
import type { ReleaseSpec } from './release-spec.ts';

/** True for `sha256:` followed by 64 lowercase hex digits, the only digest form Cutover uses. */
export function isValidDigest(d: string): boolean {
  return typeof d === 'string' && DIGEST_PATTERN.test(d);
}

/**
 * A stable content hash of a release: sha256 of its canonical JSON (object keys sorted,
 * undefined dropped, array order kept). Equal digests mean an identical republish.
 */
export function releaseDigest(spec: ReleaseSpec): string {
  // No migrations hashes as if the field did not exist, so releases published before it was
  // added keep their digest and an identical republish of one stays idempotent.
  const hashed = spec.migrations?.length ? spec : { ...spec, migrations: undefined };
  return `sha256:${createHash('sha256').update(canonicalJson(hashed)).digest('hex')}`;
}
