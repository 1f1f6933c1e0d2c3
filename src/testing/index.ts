// Test support: what the unit tests, the end-to-end tests and the benchmarks share. No shipped
// file imports this folder (docs/architecture.md: only tests, test-support files and bench/ do).
export { waitFor } from './wait-for.ts';
export type { WaitOptions } from './wait-for.ts';
