import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import { releaseDigest } from '../releases/index.ts';
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
    throw new CutoverError(
      'RELEASE_EXISTS',
      `${spec.app} ${spec.version} is already published with different content; releases are immutable, so publish a new version`,
      { details: { app: spec.app, version: spec.version } },
    );
  }
  if (!(await deps.artifacts.has(spec.artifact.digest))) {
    throw new CutoverError(
      'ARTIFACT_NOT_FOUND',
      `artifact ${spec.artifact.digest} has not been uploaded; upload it (POST /api/artifacts) before publishing, or use \`cutover release publish FILE\``,
      { details: { digest: spec.artifact.digest } },
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
    details: { digest, artifact: spec.artifact.digest, commit: spec.commit ?? null },
  }));
  return { release, created: true };
}
