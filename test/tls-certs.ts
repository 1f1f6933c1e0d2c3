// The test certificates live in src/testing/ (the namespace cluster and the benchmarks make them
// too); re-exported here for the end-to-end tests that import them from test/.
export { makeHostCert, makeLeafCert, makeTestCerts, opensslFingerprint } from '../src/testing/index.ts';
export type { TestCerts } from '../src/testing/index.ts';
