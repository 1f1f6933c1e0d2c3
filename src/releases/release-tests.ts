import { z } from 'zod';
import { DIGEST_PATTERN, durationField, msField, text } from './release-fields.ts';

/** The kinds of test a release brings: `smoke` before any user sees it, `verify` after the flip. */
export const TEST_KINDS = ['smoke', 'verify'] as const;
export type TestKind = (typeof TEST_KINDS)[number];

/** One test a release brings, run by the agent from a release copy (see ADR 0020). */
export interface ReleaseTest {
  /** Shell command (`/bin/sh -c`) run in the unpacked artifact's directory. */
  command: string;
  /** The test's process group is killed after this long, and the test fails. */
  timeoutMs: number;
  /** An artifact of its own (`sha256:…`, uploaded like the release's) to run from; default: the release's. */
  artifact?: string;
}

export type ReleaseTests = Partial<Record<TestKind, ReleaseTest>>;

/** Five minutes: a test that needs longer says so in the manifest. */
export const DEFAULT_TEST_TIMEOUT_MS = 300_000;

const commandField = text('the shell command that runs the test, e.g. "npm run smoke"')
  .refine((s) => s.trim().length > 0, 'must not be empty: give the shell command that runs the test')
  .refine((s) => !s.includes('\0'), 'must not contain a NUL byte, which no process can receive');

const artifactField = z
  .string({ error: 'must be an artifact digest, "sha256:" followed by 64 lowercase hex digits' })
  .regex(DIGEST_PATTERN, 'must be "sha256:" followed by 64 lowercase hex digits (a .tgz uploaded with POST /api/artifacts)');

const TEST_ERROR = 'must be a mapping with command, and optionally timeout and artifact';
const TESTS_ERROR = 'must be a mapping with smoke and/or verify, e.g. { smoke: { command: "npm run smoke" } }';

/** Keeps a test's optional artifact only when given, so specs compare and hash the same whichever path built them. */
const normalised = (t: { command: string; timeoutMs: number; artifact?: string | undefined }): ReleaseTest =>
  t.artifact === undefined ? { command: t.command, timeoutMs: t.timeoutMs } : { command: t.command, timeoutMs: t.timeoutMs, artifact: t.artifact };

/** One test of the YAML manifest: a human timeout. */
const manifestTest = (kind: TestKind) =>
  z
    .strictObject(
      { command: commandField, timeout: durationField(`how long the ${kind} test may run`, 1000).optional(), artifact: artifactField.optional() },
      { error: TEST_ERROR },
    )
    .transform((t) => normalised({ command: t.command, timeoutMs: t.timeout ?? DEFAULT_TEST_TIMEOUT_MS, artifact: t.artifact }));

/** One test of an API body: milliseconds. */
const specTest = (kind: TestKind) =>
  z
    .strictObject(
      { command: commandField, timeoutMs: msField(`how long the ${kind} test may run`, 1000).default(DEFAULT_TEST_TIMEOUT_MS), artifact: artifactField.optional() },
      { error: 'must be an object with command, and optionally timeoutMs and artifact' },
    )
    .transform(normalised);

/** `tests:` of the YAML manifest. */
export const manifestTestsField = z
  .strictObject({ smoke: manifestTest('smoke').optional(), verify: manifestTest('verify').optional() }, { error: TESTS_ERROR })
  .transform(compact);

/** `tests` of an API body. */
export const specTestsField = z
  .strictObject({ smoke: specTest('smoke').optional(), verify: specTest('verify').optional() }, { error: TESTS_ERROR.replace('mapping', 'object') })
  .transform(compact);

function compact(tests: Partial<Record<TestKind, ReleaseTest | undefined>>): ReleaseTests {
  const out: ReleaseTests = {};
  for (const kind of TEST_KINDS) {
    const t = tests[kind];
    if (t) out[kind] = t;
  }
  return out;
}

/** Every artifact a release needs at hand: its own, then its tests' own (each once). */
export function releaseArtifacts(spec: { artifact?: { digest?: unknown }; tests?: unknown }): string[] {
  const out = new Set<string>();
  if (typeof spec.artifact?.digest === 'string') out.add(spec.artifact.digest);
  const tests = (spec.tests ?? {}) as Partial<Record<TestKind, { artifact?: unknown }>>;
  for (const kind of TEST_KINDS) {
    const digest = tests[kind]?.artifact;
    if (typeof digest === 'string') out.add(digest);
  }
  return [...out];
}
