import { artifactsToCollect, releaseArtifacts } from '../releases/index.ts';
import type { ArtifactStore } from '../releases/index.ts';
import type { Clock, Logger } from '../shared/index.ts';
import type { Store } from '../store/index.ts';

/**
 * Deletes uploads no release references once they are `maxAgeMs` old (review L9: an upload whose
 * publish was refused, e.g. of a mistaken `/etc`, stayed downloadable forever). The release list
 * is read after the directory listing, so an artifact published meanwhile is seen as referenced.
 * Returns the names deleted.
 */
export async function collectUnreferencedArtifacts(deps: { store: Store; artifacts: ArtifactStore; clock: Clock; log: Logger }, maxAgeMs: number): Promise<string[]> {
  const files = await deps.artifacts.list();
  const referenced = new Set<string>();
  // A release's own artifact and its tests' (tests.*.artifact).
  for (const r of await deps.store.listReleases()) for (const digest of releaseArtifacts(r.spec)) referenced.add(digest);
  const doomed = artifactsToCollect(files, referenced, deps.clock.now(), maxAgeMs);
  for (const f of doomed) {
    await deps.artifacts.remove(f.name);
    deps.log.info({ file: f.name, ...(f.digest ? { digest: f.digest } : {}) }, 'deleted an upload no release references');
  }
  return doomed.map((f) => f.name);
}
