// The test kit: fakes, record builders, the throwaway PostgreSQL cluster, the Runtime contract
// suite, one `waitFor`, and the CLI process helpers the end-to-end tests and the benchmarks share.
// Only tests, test-support files and benchmarks import it; no shipped file may (the import table in
// docs/architecture.md has no arrow to it from production code).
export { FakeRuntime } from './fake-runtime.ts';
export { testActor, testColorStats, testDeployment, testInstance, testReleaseSpec } from './records.ts';
export { startTestCluster } from './postgres-cluster.ts';
export type { TestCluster } from './postgres-cluster.ts';
export { runtimeContract } from './runtime-contract.ts';
export type { RuntimeUnderTest } from './runtime-contract.ts';
export { waitFor } from './wait-for.ts';
export type { WaitOptions } from './wait-for.ts';
export {
  ROOT,
  CLI,
  EXAMPLE,
  alive,
  cutover,
  cutoverText,
  freePort,
  isolateCliConfig,
  localToken,
  bulkyExampleApp,
  manifest,
  portFlags,
  ports,
  startProcess,
  tempDir,
  testWaitingFor,
  unhealthyWhile,
} from './cli-process.ts';
export type { CliResult, Ports } from './cli-process.ts';
export { tarHeader } from './tar-header.ts';
export { captureLog, startLinkServer } from './link-server.ts';
export type { CapturedLine, JoinedLink, LinkServer } from './link-server.ts';
export { makeHostCert, makeLeafCert, makeTestCerts, opensslFingerprint } from './tls-certs.ts';
export type { HostCert, TestCerts } from './tls-certs.ts';
export { startNetnsCluster } from './netns-cluster.ts';
export type { ClusterAgent, ClusterOptions, ClusterReplica, NetnsCluster } from './netns-cluster.ts';
export { startProber } from './prober.ts';
export type { ProbeTarget, Prober, ProberOptions } from './prober.ts';
export { failuresBetween, flipReport, machineFlip, versionsSince } from './probe-analysis.ts';
export type { FlipReport, MachineFlip, MachineProbes, ProbeSample } from './probe-analysis.ts';
export { filesUnder, processesHolding } from './leak-sweep.ts';
export type { HoldingProcess } from './leak-sweep.ts';
