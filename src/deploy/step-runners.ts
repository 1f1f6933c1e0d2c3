import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord, StepRecord, Store } from '../store/index.ts';
import type { Analysis } from './analysis.ts';
import { finaliseInstance } from './instance-transitions.ts';
import { batchStepNumber, kindOf, shiftStepPercent, stepNamed } from './steps.ts';
import type { StepKind } from './steps.ts';
import { runTestStep } from './test-step.ts';
import { recordFlip } from './deployment-machines.ts';
import { slotSpecOf } from './converge.ts';
import { slotConfigOf, withSlotEnv } from './deploy-config.ts';
import { spansMachines } from './runtime.ts';
import type { FlipOutcome } from './runtime.ts';
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

const start: StepRunner = async ({ runtime, appConfig }, d, spec) => {
  // The app config at the deployment's recorded version: read from the record, so a replica resuming it starts the same pair.
  const withEnv = await withSlotEnv(appConfig, d.instance, spec, d.configVersion);
  const started = await runtime.startSlot(slotSpecOf(d.instance, d.toColor, d.toVersion, d.id, withEnv));
  return { port: started.port, pid: started.pid, ...(started.machines ? { slots: started.machines } : {}) };
};

const health: StepRunner = async ({ runtime, hold }, d, spec) => {
  // Abortable: the failure path stops the slot, which ends this wait.
  const result = await hold.abortable(d, runtime.waitHealthy(d.instance, d.toColor, spec.deployTimeoutMs));
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
  step.detail = { percent, ...(shifted ? { shiftedAt: shifted.shiftedAt } : {}) };
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
 * One batch of a rolling deployment: its machines start the release, are health-checked and flip
 * together; a machine that does not confirm the flip fails the batch (the failure path flips every
 * machine back). The others wait for the next batch.
 */
const batch: StepRunner = async (deps, d, spec, step) => {
  const n = batchStepNumber(step.name) ?? 0;
  const machines = d.rolling?.batches[n - 1];
  const { runtime } = deps;
  if (!machines || !spansMachines(runtime)) throw new CutoverError('INTERNAL', `deployment ${d.id} has no machines for ${step.name}`);
  const on = runtime.on(machines);
  await on.startSlot(slotSpecOf(d.instance, d.toColor, d.toVersion, d.id, await withSlotEnv(deps.appConfig, d.instance, spec, d.configVersion)));
  const result = await deps.hold.abortable(d, on.waitHealthy(d.instance, d.toColor, spec.deployTimeoutMs));
  if (!result.ok) {
    throw new CutoverError('DEPLOYMENT_FAILED', `${d.toVersion} did not become healthy on ${d.toColor}: ${result.message}; the machines of earlier batches go back to ${d.fromVersion ?? 'nothing'}`, {
      details: { batch: n, machines, reason: result.reason, lastCheck: result.lastCheck, logTail: result.logTail },
    });
  }
  const flipped = await on.flip(d.instance, d.toColor, undefined, 'forward');
  const missing = [...(flipped.unconfirmed ?? []), ...(flipped.pending ?? [])];
  if (missing.length > 0) {
    throw new CutoverError('DEPLOYMENT_FAILED', `machine${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not confirm the flip of batch ${n}; every machine goes back to ${d.fromVersion ?? 'nothing'}`, {
      details: { batch: n, machines: missing },
    });
  }
  deps.log?.info({ deployment: d.id, instance: d.instance, batch: n, machines }, `batch ${n} serves ${d.toVersion}`);
  return { machines, healthySince: result.healthySince, flippedAt: flipped.flippedAt };
};

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
