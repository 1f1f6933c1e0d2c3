// The test kit: fakes, record builders, the throwaway PostgreSQL cluster and the Runtime contract
// suite. Only tests, test-support files and benchmarks import it; no shipped file may (the import
// table in docs/architecture.md has no arrow to it from production code).
export { FakeRuntime } from './fake-runtime.ts';
export { testInstance, testReleaseSpec } from './records.ts';
export { startTestCluster } from './postgres-cluster.ts';
export type { TestCluster } from './postgres-cluster.ts';
export { runtimeContract } from './runtime-contract.ts';
export type { RuntimeUnderTest } from './runtime-contract.ts';
