import { CutoverError } from '../shared/index.ts';
import type { Supervisor } from '../supervisor/index.ts';
import type { TestResult as RuntimeTestResult, TestRun as RuntimeTestSpec } from '../protocol/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
import type { createSlotIdentity } from './slot-identity.ts';

export interface TestRunnerDeps {
  supervisor: Pick<Supervisor, 'runTest'>;
  identity: Pick<ReturnType<typeof createSlotIdentity>, 'prepareSlot' | 'specFields'>;
  state(): AgentState;
  hasArtifact(digest: string): Promise<boolean>;
  /** The port the router listens on (once it does). */
  routerPort(): number | undefined;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** `http://<first host>[:port]`: the router as a user reaches the instance, so the test goes through it like a user. */
export function previewUrl(hosts: readonly string[], port: number | undefined): string {
  const host = hosts[0] ?? 'localhost';
  return port === undefined || port === 80 ? `http://${host}` : `http://${host}:${port}`;
}

/** The values a test's output must never show: the slots' configuration and the preview token. */
function secretsOf(instance: PersistedInstance, spec: RuntimeTestSpec): string[] {
  const values = Object.values(instance.slots).flatMap((s) => Object.values(s?.env ?? {}));
  return spec.previewToken ? [...values, spec.previewToken] : values;
}

/**
 * Runs a release's tests on the agent (ADR 0020): from the instance's copy of the artifact,
 * as its slot user, with exactly `CUTOVER_PREVIEW_URL`, `CUTOVER_PREVIEW_TOKEN`,
 * `CUTOVER_TEST_KIND` and `APP_VERSION` on top of the slots' minimal environment: never the
 * agent's or the CLI's credentials. One test per instance: a new one cancels the one running.
 */
export function createTestRunner(deps: TestRunnerDeps) {
  const running = new Map<string, AbortController>();

  async function run(spec: RuntimeTestSpec): Promise<RuntimeTestResult> {
    const instance = deps.state().instances[spec.instance];
    if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `the agent does not know instance "${spec.instance}"`, { details: { instance: spec.instance } });
    if (!(await deps.hasArtifact(spec.digest))) {
      throw new CutoverError('ARTIFACT_NOT_FOUND', `the agent has no artifact ${spec.digest} to run the ${spec.kind} test from; upload it first`, {
        details: { digest: spec.digest },
      });
    }
    // The same copy and user a slot of this artifact gets (unpacked once, kept for the slots).
    const place = { digest: spec.digest } as PersistedSlot;
    await deps.identity.prepareSlot(spec.instance, instance, place);
    const { cwd, stateDir, user } = deps.identity.specFields(spec.instance, place);
    const url = previewUrl(instance.hosts, deps.routerPort());
    running.get(spec.instance)?.abort();
    const controller = new AbortController();
    running.set(spec.instance, controller);
    deps.log.info({ instance: spec.instance, kind: spec.kind, version: spec.version, deployment: spec.deploymentId }, `running the ${spec.kind} test`);
    try {
      const result = await deps.supervisor.runTest({
        command: spec.command,
        cwd,
        env: { CUTOVER_PREVIEW_URL: url, CUTOVER_PREVIEW_TOKEN: spec.previewToken, CUTOVER_TEST_KIND: spec.kind, APP_VERSION: spec.version },
        ...(user ? { user } : {}),
        ...(stateDir ? { home: stateDir } : {}),
        timeoutMs: spec.timeoutMs,
        secrets: secretsOf(instance, spec),
        signal: controller.signal,
      });
      const passed = result.exitCode === 0 && !result.timedOut && !result.cancelled && result.error === undefined;
      const fields = { instance: spec.instance, kind: spec.kind, exitCode: result.exitCode, durationMs: result.durationMs, timedOut: result.timedOut };
      if (passed) deps.log.info(fields, `the ${spec.kind} test passed`);
      else deps.log.warn(fields, `the ${spec.kind} test failed`);
      return { passed, previewUrl: url, ...result };
    } finally {
      if (running.get(spec.instance) === controller) running.delete(spec.instance);
    }
  }

  return {
    run,
    /** Kills the instance's running test, if any. */
    cancel(instance: string): void {
      running.get(instance)?.abort();
    },
    /** Kills every running test (the agent stops). */
    cancelAll(): void {
      for (const c of running.values()) c.abort();
    },
  };
}
