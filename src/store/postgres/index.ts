export { createPostgresStore } from './postgres-store.ts';
export type { PostgresStoreOptions } from './postgres-store.ts';
export { startTestCluster } from './test-cluster.ts';
export type { TestCluster } from './test-cluster.ts';
