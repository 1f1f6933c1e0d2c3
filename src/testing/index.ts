// Test support: what the unit tests, the end-to-end tests and the benchmarks share. No shipped
// file imports this folder (docs/architecture.md: only tests, test-support files and bench/ do).
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
  manifest,
  ports,
  startProcess,
  tempDir,
} from './cli-process.ts';
export type { CliResult, Ports } from './cli-process.ts';
