import { randomBytes } from 'node:crypto';
import { CutoverError } from '../shared/index.ts';
import type { ReleaseSpec, TestKind } from '../releases/index.ts';
import type { DeploymentRecord, StepRecord } from '../store/index.ts';
import { spansMachines } from './runtime.ts';
import type { Runtime, RuntimeTestResult } from './runtime.ts';
import type { RunnerDeps } from './runner-deps.ts';
import { resumedStep } from './steps.ts';

/** What a test step keeps in its `detail`: the output (masked by the agent), never in the audit log. */
function detailOf(r: RuntimeTestResult, command: string): Record<string, unknown> {
  return {
    command,
    passed: r.passed,
    exitCode: r.exitCode,
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.timedOut ? { timedOut: true } : {}),
    ...(r.cancelled ? { cancelled: true } : {}),
    durationMs: r.durationMs,
    previewUrl: r.previewUrl,
    outputBytes: r.outputBytes,
    sha256: r.sha256,
    output: r.output,
    ...(r.error ? { error: r.error } : {}),
    // On an instance on several machines a test runs once: here is where.
    ...(r.machine ? { machine: r.machine } : {}),
  };
}

function why(r: RuntimeTestResult, timeoutMs: number): string {
  if (r.error) return r.error;
  if (r.timedOut) return `it ran longer than its timeout (${Math.round(timeoutMs / 1000)} s) and was killed`;
  return r.exitCode === null ? `it was ended by ${r.signal}` : `it exited with code ${r.exitCode}`;
}

/**
 * Runs the release's `smoke` test (before any user sees the release: through the router's
 * preview route, with a token made for it and closed after) or its `verify` test (after the
 * flip: what users see, no token). The audit entry holds the exit code and the output's SHA-256,
 * never the output. A failure throws TEST_FAILED; a failed `verify` files a problem first.
 */
/**
 * Where a test runs: `verify` on a machine that confirmed the flip (one left behind may still
 * serve the old release); `smoke`, and every test of an instance on one machine, anywhere.
 */
function testRuntime(runtime: Runtime, d: DeploymentRecord, kind: TestKind): Runtime {
  const behind = d.machines ? [...d.machines.unconfirmed, ...d.machines.pending, ...d.machines.skipped] : [];
  if (kind !== 'verify' || behind.length === 0 || !spansMachines(runtime)) return runtime;
  const confirmed = d.machines!.placed.filter((m) => !behind.includes(m));
  return confirmed.length > 0 ? runtime.on(confirmed) : runtime;
}

export async function runTestStep(deps: RunnerDeps, d: DeploymentRecord, spec: ReleaseSpec, step: StepRecord, kind: TestKind): Promise<Record<string, unknown>> {
  const test = spec.tests?.[kind];
  if (!test) throw new CutoverError('INTERNAL', `the plan has a ${kind} step but release ${d.toVersion} has no ${kind} test`);
  const { journal } = deps;
  const runtime = testRuntime(deps.runtime, d, kind);
  const digest = test.artifact ?? spec.artifact.digest;
  if (test.artifact) await runtime.ensureArtifact(d.instance, test.artifact, () => deps.openArtifact(test.artifact!));
  // Resumed after its replica died: the test may still run on its agent, with the token its replica
  // opened (kept by the router until closed). The call below, with the same key, joins that run or
  // collects its answer; a new token would shut that run out of the preview.
  const token = kind === 'smoke' && !resumedStep(step) ? randomBytes(24).toString('base64url') : '';
  // Replaces a token opened by hand (`cutover preview`): the idle slot is this deployment's now.
  if (token) await runtime.setPreview(d.instance, token);
  let result: RuntimeTestResult;
  try {
    const run = { instance: d.instance, kind, command: test.command, timeoutMs: test.timeoutMs, digest, version: d.toVersion, deploymentId: d.id, previewToken: token };
    // An abort (or the bake's rollback during verify) rejects at once; the failure path kills the test.
    result = await deps.hold.abortable(d, runtime.runTest(run));
  } finally {
    if (kind === 'smoke') await runtime.setPreview(d.instance, null).catch((e: Error) => deps.log?.warn({ deployment: d.id, err: e.message }, 'could not close the preview'));
  }
  const detail = detailOf(result, test.command);
  await journal.audit(d, `${d.kind}.test`, {
    kind,
    passed: result.passed,
    exitCode: result.exitCode,
    sha256: result.sha256,
    durationMs: result.durationMs,
    ...(result.timedOut ? { timedOut: true } : {}),
    ...(result.machine ? { machine: result.machine } : {}),
  });
  if (result.passed) return detail;
  await journal.note(d, step, detail);
  const message =
    `the ${kind} test of ${d.toVersion} failed: ${why(result, test.timeoutMs)}; ` +
    (kind === 'smoke'
      ? `${d.fromVersion ? `${d.fromVersion} still serves` : 'nothing was serving'}, no user reached ${d.toVersion}`
      : `users are back on ${d.fromVersion ?? 'nothing'}`) +
    `. Its output is in the step's detail: \`cutover history ${d.instance} --json\``;
  if (kind === 'verify') {
    const problem = { title: `The verify test failed on ${d.instance}: ${why(result, test.timeoutMs)}`.slice(0, 200), details: `deployment ${d.id}; the last of its output:\n${result.output.slice(-2000)}`, source: 'verify' as const };
    await deps.fileProblem?.(d, problem).catch((e: Error) => deps.log?.warn({ deployment: d.id, err: e.message }, 'could not file the problem'));
  }
  throw new CutoverError('TEST_FAILED', message, { details: { kind, exitCode: result.exitCode, timedOut: result.timedOut, sha256: result.sha256 } });
}
