import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord, StepRecord, Store } from '../store/index.ts';
import type { Analysis } from './analysis.ts';
import { finaliseInstance } from './instance-transitions.ts';
import { batchStepNumber, kindOf, remainingMs, resumedStep, shiftStepPercent, stepNamed } from './steps.ts';
import { slotOf } from './lease-recovery.ts';
import type { StepKind } from './steps.ts';
import { runTestStep } from './test-step.ts';
import { recordFlip } from './deployment-machines.ts';
import { slotSpecOf } from './converge.ts';
import { slotConfigOf, withSlotEnv } from './deploy-config.ts';
import { spansMachines } from './runtime.ts';
import type { FlipOutcome, RuntimeSlot } from './runtime.ts';
import type { RunnerDeps, StepRunner } from './runner-deps.ts';

export type { ReleaseProblem, RunnerDeps, StepRunner } from './runner-deps.ts';

async function mustGetInstance(store: Store, name: string): Promise<InstanceRecord> {
  const instance = await store.getInstance(name);
  if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"; see \`cutover instance list\``, { details: { instance: name } });
  return instance;
}

const prepare: StepRunner = async ({ store, runtime, clock, openArtifact }, d, spec) => {
  const instance = await mustGetInstance(store, d.instance);
  await runtime.ensureInstance(instance.name, instance.hosts);
  await runtime.ensureArtifact(d.instance, spec.artifact.digest, () => openArtifact(spec.artifact.digest));
  // The idle slot may still hold an older warm release: it is replaced, so stop it first.
  await runtime.stopSlot(d.instance, d.toColor);
  instance.slots[d.toColor] = { version: d.toVersion, status: 'starting', deploymentId: d.id, ...slotConfigOf(d) };
  instance.updatedAt = clock.now();
  await store.saveInstanceState(instance);
  return undefined;
};

/**
 * The slot deployment `d` started, when every machine of the instance reports it (a resumed start
 * keeps it: the agent remembers a start's key only for a while, and not across its own restart).
 * Undefined when any machine lacks it: the start is sent again, and each agent that remembers it
 * answers the first call's answer.
 */
async function keptSlot(runtime: RunnerDeps['runtime'], d: DeploymentRecord): Promise<RuntimeSlot | undefined> {
  if (!spansMachines(runtime)) return slotOf(d, await runtime.describe(d.instance), d.id);
  const { machines } = await runtime.machinesOf(d.instance);
  // A machine that does not answer keeps nothing: the start sent again reports it as a first run would.
  const slots = await Promise.all(machines.map(async (m) => slotOf(d, await runtime.on([m]).describe(d.instance).catch(() => undefined), d.id)));
  return machines.length > 0 && slots.every((s) => s !== undefined) ? slots[0] : undefined;
}

const start: StepRunner = async ({ runtime, appConfig }, d, spec, step) => {
  const own = resumedStep(step) ? await keptSlot(runtime, d) : undefined;
  if (own) return { ...(own.port === undefined ? {} : { port: own.port }), ...(own.pid === undefined ? {} : { pid: own.pid }), kept: true };
  // The app config at the deployment's recorded version: read from the record, so a replica resuming it starts the same pair.
  const withEnv = await withSlotEnv(appConfig, d.instance, spec, d.configVersion);
  const started = await runtime.startSlot(slotSpecOf(d.instance, d.toColor, d.toVersion, d.id, withEnv));
  return { port: started.port, pid: started.pid, ...(started.machines ? { slots: started.machines } : {}) };
};

const health: StepRunner = async ({ runtime, hold, clock }, d, spec, step) => {
  // Resumed on another replica: only what is left of the deploy timeout, counted from the step's start.
  const timeoutMs = remainingMs(step, spec.deployTimeoutMs, clock.now());
  // Abortable: the failure path stops the slot, which ends this wait.
  const result = await hold.abortable(d, runtime.waitHealthy(d.instance, d.toColor, timeoutMs));
  if (!result.ok) {
    throw new CutoverError(
      'DEPLOYMENT_FAILED',
      `${d.toVersion} did not become healthy on ${d.toColor}: ${result.message}; ` +
        `${d.fromVersion ? `${d.fromVersion} still serves` : 'nothing was serving'}. See \`cutover logs ${d.instance} --color ${d.toColor}\``,
      { details: { reason: result.reason, lastCheck: result.lastCheck, logTail: result.logTail } },
    );
  }
  return { healthySince: result.healthySince };
};

const shift: StepRunner = async (deps, d, _spec, step) => {
  const percent = shiftStepPercent(step.name) ?? 0;
  const rollout = d.rollout ?? { steps: [percent], pauseMs: 0, analysis: false };
  // The counters at the start of the step: the analysis compares the colours over the step only.
  const before = rollout.analysis ? await deps.runtime.stats(d.instance) : undefined;
  const shifted = percent > 0 ? await deps.runtime.shift(d.instance, d.toColor, percent) : undefined;
  step.detail = { ...step.detail, percent, ...(shifted ? { shiftedAt: shifted.shiftedAt } : {}) };
  deps.log?.info({ deployment: d.id, instance: d.instance, percent }, `${d.toVersion} gets ${percent}% of new clients`);
  try {
    return await deps.hold.hold(d, step, { pauseMs: rollout.pauseMs, analysis: rollout.analysis, ...(before ? { before } : {}) });
  } catch (error) {
    if (isCutoverError(error) && error.code === 'ANALYSIS_FAILED') await analysisProblem(deps, d, error.details?.analysis as Analysis);
    throw error;
  }
};

/** A weighted step's analysis failed: a problem against the release, like the bake files. */
async function analysisProblem(deps: RunnerDeps, d: DeploymentRecord, analysis: Analysis): Promise<void> {
  const breaches = analysis.reasons.filter((r) => r.kind === 'breach').map((r) => r.message);
  const problem = { title: `Cutover aborted on ${d.instance}: ${breaches[0] ?? 'step analysis failed'}`.slice(0, 200), details: breaches.join('\n'), source: 'analysis' as const };
  await deps.fileProblem?.(d, problem).catch((e: Error) => deps.log?.warn({ deployment: d.id, err: e.message }, 'could not record the analysis failure'));
}

const flip: StepRunner = async ({ runtime }, d) => {
  let outcome: FlipOutcome;
  try {
    outcome = await runtime.flip(d.instance, d.toColor, d.strategy === 'flip-to-warm' ? d.toVersion : undefined, d.kind === 'rollback' ? 'rollback' : 'forward');
  } catch (error) {
    if (!isCutoverError(error) || error.code !== 'SLOT_NOT_READY') throw error;
    throw new CutoverError('DEPLOYMENT_FAILED', `${error.message}; nothing changed. Deploy ${d.toVersion} instead with \`cutover deploy ${d.instance} ${d.toVersion}\``, {
      details: error.details,
      cause: error,
    });
  }
  const { flippedAt } = outcome;
  if (d.machines) recordFlip(d.machines, outcome);
  // Over several machines: when each flipped (`flips`), and which did not confirm (they converge when back).
  const machines = outcome.machines ? { flips: outcome.machines, ...(outcome.unconfirmed ? { unconfirmed: outcome.unconfirmed } : {}), ...(outcome.pending ? { pending: outcome.pending } : {}) } : {};
  // From the journal, not memory: a resumed deployment knows when its slot became healthy.
  const healthySince = stepNamed(d, 'health')?.detail?.healthySince;
  return typeof healthySince === 'number' && healthySince > 0 ? { flippedAt, overheadMs: flippedAt - healthySince, ...machines } : { flippedAt, ...machines };
};

/**
 * One batch of a rolling deployment: each of its machines starts the release and is health-checked
 * on its own; the healthy ones flip together. A machine that does not start, is not healthy in time
 * or does not confirm its flip is a failure. Within the deployment's failure budget (`maxFailures`,
 * counted over the whole rollout) it is left on the previous release — its new slot stopped — and
 * recorded `failed` (the deployment ends `partial`; it converges like any machine left behind); the
 * failure beyond the budget fails the batch, and the failure path flips every machine back. The next
 * batch waits for this one.
 */
const batch: StepRunner = async (deps, d, spec, step) => {
  const n = batchStepNumber(step.name) ?? 0;
  const machines = d.rolling?.batches[n - 1];
  const { runtime } = deps;
  if (!machines || !spansMachines(runtime)) throw new CutoverError('INTERNAL', `deployment ${d.id} has no machines for ${step.name}`);
  const failures: MachineFailure[] = [];
  // The slot's environment once for the batch (a key this replica lacks fails the batch, not a machine).
  const slot = slotSpecOf(d.instance, d.toColor, d.toVersion, d.id, await withSlotEnv(deps.appConfig, d.instance, spec, d.configVersion));
  const checked = await Promise.all(machines.map((m) => startAndCheck(deps, d, slot, spec.deployTimeoutMs, step, m, failures)));
  const healthy = machines.filter((_, i) => checked[i] !== undefined);
  withinBudget(d, n, machines, failures);
  let flippedAt: number | undefined;
  if (healthy.length > 0) {
    const flipped = await runtime.on(healthy).flip(d.instance, d.toColor, undefined, 'forward');
    flippedAt = flipped.flippedAt;
    for (const m of [...(flipped.unconfirmed ?? []), ...(flipped.pending ?? [])]) failures.push({ machine: m, message: `on machine ${m}: did not confirm the flip of batch ${n}`, unconfirmed: true });
    withinBudget(d, n, machines, failures);
  }
  if (failures.length > 0 && d.machines) {
    const unhealthy = failures.filter((f) => !f.unconfirmed).map((f) => f.machine);
    const unconfirmed = failures.filter((f) => f.unconfirmed).map((f) => f.machine);
    d.machines.failed = [...(d.machines.failed ?? []), ...unhealthy].sort();
    d.machines.unconfirmed = [...d.machines.unconfirmed, ...unconfirmed].sort();
    // The machines that failed to start or to be healthy stay on the previous release: their new slot
    // goes. One that did not confirm its flip may serve the new release: left as it is, it converges.
    await Promise.all(unhealthy.map((m) => runtime.on([m]).stopSlot(d.instance, d.toColor).catch(() => undefined)));
    deps.log?.warn({ deployment: d.id, instance: d.instance, batch: n, failed: failures }, `batch ${n}: ${failures.length} machine(s) failed within the failure budget; left on ${d.fromVersion ?? 'nothing'}`);
  }
  deps.log?.info({ deployment: d.id, instance: d.instance, batch: n, machines: healthy }, `batch ${n} serves ${d.toVersion}`);
  const healthySince = Math.max(0, ...checked.filter((t): t is number => t !== undefined));
  return { machines, healthySince, ...(flippedAt === undefined ? {} : { flippedAt }), ...(failures.length ? { failed: failures } : {}) };
};

interface MachineFailure {
  machine: string;
  message: string;
  reason?: string;
  /** Sent the flip, no acknowledgement (else: did not start or was not healthy in time). */
  unconfirmed?: boolean;
}

/**
 * Starts the release on one machine of a batch and waits for it to be healthy: when it became
 * healthy, or undefined with its failure recorded. An abort ends the batch. Resumed on another
 * replica, a machine running this deployment's slot keeps it, and the wait gets what is left of the
 * deploy timeout.
 */
async function startAndCheck(
  deps: RunnerDeps,
  d: DeploymentRecord,
  slot: ReturnType<typeof slotSpecOf>,
  deployTimeoutMs: number,
  step: StepRecord,
  machine: string,
  failures: MachineFailure[],
): Promise<number | undefined> {
  const runtime = deps.runtime;
  if (!spansMachines(runtime)) return undefined;
  const on = runtime.on([machine]);
  const named = (message: string) => (message.startsWith('on machine ') ? message : `on machine ${machine}: ${message}`);
  try {
    const kept = resumedStep(step) ? await keptSlot(on, d) : undefined;
    if (!kept) await on.startSlot(slot);
    const result = await deps.hold.abortable(d, on.waitHealthy(d.instance, d.toColor, remainingMs(step, deployTimeoutMs, deps.clock.now())));
    if (result.ok) return result.healthySince;
    failures.push({ machine, message: named(result.message), reason: result.reason });
  } catch (error) {
    if (isCutoverError(error) && error.code === 'DEPLOYMENT_ABORTED') throw error;
    failures.push({ machine, message: named((error as Error).message) });
  }
  return undefined;
}

/** Throws when the rollout's failures so far exceed its budget: the failure path flips every machine back. */
function withinBudget(d: DeploymentRecord, n: number, machines: string[], failures: MachineFailure[]): void {
  const budget = d.rolling?.maxFailures ?? 0;
  const before = (d.machines?.failed?.length ?? 0) + (d.rolling ? (d.machines?.unconfirmed.length ?? 0) : 0);
  if (failures.length === 0 || before + failures.length <= budget) return;
  const first = failures[0]!;
  const over = budget > 0 ? ` (${before + failures.length} failed, budget ${budget})` : '';
  throw new CutoverError('DEPLOYMENT_FAILED', `${d.toVersion} failed in batch ${n}: ${first.message}${over}; the machines of earlier batches go back to ${d.fromVersion ?? 'nothing'}`, {
    details: { batch: n, machines, failed: failures, maxFailures: budget, ...(first.reason ? { reason: first.reason } : {}) },
  });
}

const finalise: StepRunner = async ({ store, clock, rollbackWindowMs }, d) => {
  const instance = await mustGetInstance(store, d.instance);
  await store.saveInstanceState(finaliseInstance(instance, d, clock.now(), rollbackWindowMs));
  return undefined;
};

/** One runner per step kind: adding a step kind is adding its runner here. */
export const STEP_RUNNERS: Record<StepKind, StepRunner> = {
  prepare,
  start,
  health,
  smoke: (deps, d, spec, step) => runTestStep(deps, d, spec, step, 'smoke'),
  shift,
  batch,
  flip,
  verify: (deps, d, spec, step) => runTestStep(deps, d, spec, step, 'verify'),
  finalise,
};

export const runnerFor = (step: StepRecord): StepRunner => STEP_RUNNERS[kindOf(step.name)];
