export { createPostgresStore } from './postgres-store.ts';
export type { PostgresStoreOptions } from './postgres-store.ts';
export { createPostgresArtifactBlobs } from './postgres-artifact-blobs.ts';
export type { PostgresArtifactBlobsOptions } from './postgres-artifact-blobs.ts';
export { createPostgresReplicaBus } from './postgres-replica-bus.ts';
export type { PostgresReplicaBusOptions } from './postgres-replica-bus.ts';
