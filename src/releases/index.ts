// Releases: the manifest users write, the spec the API keeps, and the artifact they point to.
export { parseReleaseSpec, releaseSpecSchema } from './release-spec.ts';
export type { ReleaseSpec, ReleaseComponent, ReleaseFeature, ReleaseMigration, DrainEndpoint } from './release-spec.ts';
export { diffReleases } from './release-diff.ts';
export type { ReleaseDiff, ComponentChange, DiffableRelease } from './release-diff.ts';
export { loadManifest } from './load-manifest.ts';
export type { ManifestIssue, LoadManifestOptions } from './load-manifest.ts';
export type { LoadedManifest } from './manifest-schema.ts';
export { releaseDigest, isValidDigest } from './release-digest.ts';
export { compareVersions, versionProblem } from './compare-versions.ts';
export { RELEASE_DEFAULTS } from './release-fields.ts';
export { packArtifact } from './pack-artifact.ts';
export type { PackedArtifact } from './pack-artifact.ts';
export { createArtifactStore } from './artifact-store.ts';
export type { ArtifactStore, PutOptions, StoredFile } from './artifact-store.ts';
export { DEFAULT_MAX_ARTIFACT_BYTES } from './artifact-limits.ts';
export { sniffTarGz } from './sniff-artifact.ts';
export { artifactsToCollect } from './artifact-collection.ts';
export { unpackArtifact } from './unpack-artifact.ts';
