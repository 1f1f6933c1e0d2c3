import { CutoverError, canonicalJson } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import { releaseArtifacts, releaseDigest } from '../releases/index.ts';
import type { ArtifactStore, ReleaseSpec } from '../releases/index.ts';
import type { ReleaseRecord, Store } from '../store/index.ts';
import type { Actor } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';

export interface PublishResult {
  release: ReleaseRecord;
  /** False when the identical release was already published (idempotent republish). */
  created: boolean;
}

/**
 * Publishes a release (its spec validated at the API edge): checks its artifact was uploaded, and stores it.
 * Releases are immutable: the same version with other content is refused with RELEASE_EXISTS.
 */
export async function publishRelease(
  deps: { store: Store; artifacts: ArtifactStore; clock: Clock },
  spec: ReleaseSpec,
  who: Actor,
): Promise<PublishResult> {
  const digest = releaseDigest(spec);
  const existing = await deps.store.getRelease(spec.app, spec.version);
  if (existing) {
    if (existing.digest === digest) return { release: existing, created: false };
    const fields = changedFields(existing.spec, spec as unknown as Record<string, unknown>);
    throw new CutoverError(
      'RELEASE_EXISTS',
      `${spec.app} ${spec.version} is already published with different content (${fields.join(', ')} ${fields.length === 1 ? 'differs' : 'differ'}${publishedFrom(existing.spec)}); releases are immutable, so publish a new version`,
      { details: { app: spec.app, version: spec.version, fields } },
    );
  }
  for (const needed of releaseArtifacts(spec)) {
    if (await deps.artifacts.has(needed)) continue;
    const what = needed === spec.artifact.digest ? 'artifact' : `test artifact (tests.*.artifact)`;
    throw new CutoverError(
      'ARTIFACT_NOT_FOUND',
      `${what} ${needed} has not been uploaded; upload it (POST /api/artifacts) before publishing, or use \`cutover release publish FILE\``,
      { details: { digest: needed } },
    );
  }
  const release: ReleaseRecord = {
    app: spec.app,
    version: spec.version,
    digest,
    spec: spec as unknown as Record<string, unknown>,
    createdAt: deps.clock.now(),
    createdBy: who.actor,
  };
  if (!(await deps.store.insertRelease(release))) {
    // Lost a race with an identical or a different publish: answer as if we had come second.
    return publishRelease(deps, spec, who);
  }
  await deps.store.appendAudit(auditEntry(who, 'release.publish', `${spec.app}@${spec.version}`, {
    at: release.createdAt,
    app: spec.app,
    version: spec.version,
    details: { digest, artifact: spec.artifact.digest, commit: spec.commit ?? null, tag: spec.tag ?? null, buildUrl: spec.buildUrl ?? null },
  }));
  return { release, created: true };
}

/**
 * The top-level fields of a release spec that differ between two publishes of one version, so a
 * re-run CI job learns whether the artifact or only where it was built (commit, tag, buildUrl) changed.
 */
export function changedFields(published: Record<string, unknown>, offered: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(published), ...Object.keys(offered)])].sort();
  return keys.filter((k) => canonicalJson(published[k] ?? null) !== canonicalJson(offered[k] ?? null));
}

function publishedFrom(spec: Record<string, unknown>): string {
  const parts = [['commit', spec.commit], ['tag', spec.tag], ['build', spec.buildUrl]].filter(([, v]) => typeof v === 'string');
  return parts.length ? `; it was published from ${parts.map(([k, v]) => `${String(k)} ${String(v)}`).join(', ')}` : '';
}
