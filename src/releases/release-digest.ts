import { createHash } from 'node:crypto';
import type { ReleaseSpec } from './release-spec.ts';

/** `sha256:` and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** True for `sha256:` followed by 64 lowercase hex digits, the only digest form Cutover uses. */
export function isValidDigest(d: string): boolean {
  return typeof d === 'string' && DIGEST_PATTERN.test(d);
}

/**
 * A stable content hash of a release: sha256 of its canonical JSON (object keys sorted,
 * undefined dropped, array order kept). Equal digests mean an identical republish.
 */
export function releaseDigest(spec: ReleaseSpec): string {
  return `sha256:${createHash('sha256').update(canonicalJson(spec)).digest('hex')}`;
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
