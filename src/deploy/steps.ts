// The step kinds of a deployment and the plan that lists them. A new step is an addition here
// (its name, where `planSteps` puts it), a runner in `step-runners.ts`, and what undoing it means
// in `undoAfterFailure` (see docs/architecture.md, "The deployment pipeline", and ADR 0020).
import type { ReleaseTests } from '../releases/index.ts';
import type { DeploymentRecord, RolloutSpec, StepName, StepRecord } from '../store/index.ts';

export type { StepName } from '../store/index.ts';

/** What a step does; every `shift-<percent>` is of kind `shift`, every `batch-<n>` of kind `batch`. */
export type StepKind = 'prepare' | 'start' | 'health' | 'smoke' | 'shift' | 'batch' | 'flip' | 'verify' | 'finalise';

/** Name of the deployment step that sends `percent` of new clients to the new colour. */
export const shiftStepName = (percent: number): StepName => `shift-${percent}`;

/** The percent of a step named by {@link shiftStepName}, or undefined for any other step. */
export function shiftStepPercent(name: string): number | undefined {
  if (!name.startsWith('shift-')) return undefined;
  const n = Number(name.slice(6));
  return Number.isInteger(n) ? n : undefined;
}

/** Name of the step of a rolling deployment that starts, checks and flips its `n`-th batch of machines (from 1). */
export const batchStepName = (n: number): StepName => `batch-${n}`;

/** The batch number of a step named by {@link batchStepName}, or undefined for any other step. */
export function batchStepNumber(name: string): number | undefined {
  if (!name.startsWith('batch-')) return undefined;
  const n = Number(name.slice(6));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function kindOf(name: StepName): StepKind {
  if (shiftStepPercent(name) !== undefined) return 'shift';
  if (batchStepNumber(name) !== undefined) return 'batch';
  return name as Exclude<StepKind, 'shift' | 'batch'>;
}

/**
 * A rolling deployment's steps: `prepare`, one `batch-<n>` per batch of machines (each started,
 * health-checked and flipped before the next begins), `finalise`. It runs no release tests: a
 * barrier deployment does.
 */
export const rollingSteps = (batches: number): StepName[] => ['prepare', ...Array.from({ length: batches }, (_, k) => batchStepName(k + 1)), 'finalise'];

/** Machines in batches of at most `size`, in order. */
export function batchesOf(machines: readonly string[], size: number): string[][] {
  const out: string[][] = [];
  for (let k = 0; k < machines.length; k += size) out.push(machines.slice(k, k + size));
  return out;
}

/** Steps of a deployment that starts the release in the idle slot (tests and shifts are added by the plan). */
export const START_AND_FLIP_STEPS = ['prepare', 'start', 'health', 'flip', 'finalise'] as const satisfies readonly StepName[];
/**
 * Steps of a flip back to a slot that is still warm. The check that the slot still serves the
 * expected version, healthy, happens inside the agent's flip, in the same tick as the switch.
 * It runs no tests: the release ran there before, and a rollback must take milliseconds.
 */
export const FLIP_TO_WARM_STEPS = ['flip', 'finalise'] as const satisfies readonly StepName[];

/** Which of a release's tests a deployment runs. */
export interface TestChoice {
  smoke: boolean;
  verify: boolean;
}

/**
 * Which tests a deployment runs (pure): a start-and-flip runs the release's `smoke` and `verify`;
 * a flip to a warm slot runs none; `--steps 0` (the new slot gets no traffic before the flip: a
 * person tries it) runs `smoke` only; `--skip-tests` none. `verify` needs a warm slot to flip back
 * to (`hasPrevious`): an instance's first deployment runs `smoke` only.
 */
export function chooseTests(
  strategy: DeploymentRecord['strategy'],
  tests: ReleaseTests | undefined,
  options: { rollout?: RolloutSpec; skip?: boolean; hasPrevious?: boolean } = {},
): TestChoice {
  if (strategy !== 'start-and-flip' || options.skip || !tests) return { smoke: false, verify: false };
  const previewOnly = options.rollout !== undefined && options.rollout.steps.length === 1 && options.rollout.steps[0] === 0;
  return { smoke: tests.smoke !== undefined, verify: tests.verify !== undefined && !previewOnly && options.hasPrevious !== false };
}

/**
 * The plan's steps: the strategy's, with `smoke` before the first shift or the flip, one
 * `shift-<percent>` per rollout step just before the flip, and `verify` after the flip, before
 * `finalise` (the lease still held, the old slot still warm).
 */
export function planSteps(strategy: DeploymentRecord['strategy'], options: { rollout?: RolloutSpec; tests?: TestChoice } = {}): StepName[] {
  const steps: StepName[] = [];
  for (const name of strategy === 'flip-to-warm' ? FLIP_TO_WARM_STEPS : START_AND_FLIP_STEPS) {
    if (name === 'flip') {
      if (options.tests?.smoke) steps.push('smoke');
      steps.push(...(options.rollout?.steps ?? []).map(shiftStepName));
    }
    steps.push(name);
    if (name === 'flip' && options.tests?.verify) steps.push('verify');
  }
  return steps;
}

const reached = (d: DeploymentRecord, name: StepName): boolean => d.steps.some((s) => s.name === name && s.status !== 'pending');

/** The flip has begun (undoing is a rollback from here). */
export const flipStarted = (d: DeploymentRecord): boolean => reached(d, 'flip');
/** The flip is done: users see the new release. */
export const flipDone = (d: DeploymentRecord): boolean => d.steps.some((s) => s.name === 'flip' && s.status === 'done');
/** The new slot may run (its start began). */
export const slotStarted = (d: DeploymentRecord): boolean => reached(d, 'start');
/** A batch of a rolling deployment has begun (its machines may have flipped). */
export const batchStarted = (d: DeploymentRecord): boolean => d.steps.some((s) => batchStepNumber(s.name) !== undefined && s.status !== 'pending');
/** A weighted step has sent some clients to the new colour. */
export const shiftStarted = (d: DeploymentRecord): boolean => d.steps.some((s) => (shiftStepPercent(s.name) ?? 0) > 0 && s.status !== 'pending');
/** `finalise` is done: the instance record says the new release is current. */
export const finalised = (d: DeploymentRecord): boolean => d.steps.some((s) => s.name === 'finalise' && s.status === 'done');
/** The step of that name in the plan, if it has one. */
export const stepNamed = (d: DeploymentRecord, name: StepName): StepRecord | undefined => d.steps.find((s) => s.name === name);
/** The plan has a `verify` step not done yet: the release is not proven after its flip. */
export const verifyPending = (d: DeploymentRecord): boolean => d.steps.some((s) => s.name === 'verify' && s.status !== 'done');
/** The step running now, if any. */
export const runningStep = (d: DeploymentRecord): StepRecord | undefined => d.steps.find((s) => s.status === 'running');
/** When the flip ended, if it did: the bake watches from there. */
export const flippedAt = (d: DeploymentRecord): number | undefined => d.steps.find((s) => s.name === 'flip' && s.status === 'done')?.finishedAt;
/**
 * Whether `cutover abort` can still stop it: before the flip (the old slot keeps serving), or
 * during its `verify` test (the failure path flips back to the warm slot).
 */
export const abortable = (d: DeploymentRecord): boolean =>
  !flipStarted(d) || (flipDone(d) && d.steps.some((s) => s.name === 'verify' && (s.status === 'pending' || s.status === 'running')));

/** A step a replica began and another resumed after the first died (the journal records `resumedAt`). */
export const resumedStep = (step: StepRecord): boolean => step.detail?.resumedAt !== undefined;

/** The shortest wait a resumed step is given past its deadline: one health check can still see the slot healthy. */
export const RESUME_GRACE_MS = 1000;

/**
 * What is left of a step's `totalMs` at `now`, counted from its first `startedAt` (kept when another
 * replica resumes it), at least {@link RESUME_GRACE_MS} once resumed. A step not resumed gets all of it.
 */
export function remainingMs(step: StepRecord, totalMs: number, now: number): number {
  if (!resumedStep(step) || step.startedAt === undefined) return totalMs;
  return Math.max(RESUME_GRACE_MS, totalMs - (now - step.startedAt));
}
