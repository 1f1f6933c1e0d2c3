import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { DeploymentRecord, StepRecord, Store } from '../store/index.ts';
import type { Journal } from './deployment-journal.ts';
import { abandonSlot, finaliseInstance, undoAfterFailure } from './instance-transitions.ts';
import type { Undo } from './instance-transitions.ts';
import type { Runtime } from './runtime.ts';

export interface FailDeps {
  store: Store;
  runtime: Runtime;
  clock: Clock;
  journal: Journal;
  rollbackWindowMs: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

const asCutoverError = (error: unknown, step: StepRecord | undefined): CutoverError =>
  isCutoverError(error)
    ? error
    : new CutoverError('DEPLOYMENT_FAILED', `step "${step?.name}" failed: ${(error as Error)?.message ?? error}`, { cause: error });

/**
 * Flips clients back as `undo` says. After the flip it is a rollback to the warm slot, recorded
 * on the deployment (`rollback`: strategy and timing). Returns false when that flip failed: users
 * then stay on the new release, and the instance record says so.
 */
async function flipBack(deps: FailDeps, d: DeploymentRecord, back: NonNullable<Undo['flipBack']>): Promise<boolean> {
  const started = deps.clock.now();
  try {
    // After the flip the warm slot must still serve the old release, healthy (checked by the agent in the same tick).
    const expect = back.afterFlip ? (back.version ?? undefined) : undefined;
    const { flippedAt } = await deps.runtime.flip(d.instance, back.color, expect, 'rollback');
    if (back.afterFlip) d.rollback = { strategy: 'flip-to-warm', toVersion: back.version, toColor: back.color, flippedAt, tookMs: deps.clock.now() - started };
    return true;
  } catch (error) {
    deps.log?.warn({ deployment: d.id, instance: d.instance, err: (error as Error).message }, 'could not put every client back on the old colour');
    return false;
  }
}

/**
 * Settles `d` as failed (or aborted) at `step`, undoing what `undoAfterFailure` says for that
 * point; `ownSlot` false (recovery found the slot belongs to someone else) touches no slot. The
 * lease is given up before the record is settled, so whoever sees the end can deploy at once.
 */
export async function failDeployment(
  deps: FailDeps,
  d: DeploymentRecord,
  step: StepRecord | undefined,
  error: unknown,
  release?: () => Promise<void>,
  ownSlot = true,
): Promise<void> {
  const err = asCutoverError(error, step);
  const undo = undoAfterFailure(d, ownSlot);
  const warn = (what: string) => (e: Error) => deps.log?.warn({ deployment: d.id, instance: d.instance, err: e.message }, what);
  if (undo.cancelTest) await deps.runtime.cancelTest(d.instance).catch(warn('could not stop the running test'));
  if (undo.closePreview) await deps.runtime.setPreview(d.instance, null).catch(warn('could not close the preview'));
  let stopNewSlot = undo.stopNewSlot;
  if (undo.flipBack && !(await flipBack(deps, d, undo.flipBack)) && undo.flipBack.afterFlip) {
    // Users stay on the new release: the record must say so, and its slot keeps running.
    stopNewSlot = false;
    const instance = await deps.store.getInstance(d.instance);
    if (instance) await deps.store.saveInstanceState(finaliseInstance(instance, d, deps.clock.now(), deps.rollbackWindowMs)).catch(warn('could not record the instance'));
  }
  if (stopNewSlot) {
    await deps.runtime.stopSlot(d.instance, d.toColor).catch(warn('could not stop the new slot'));
    const instance = await deps.store.getInstance(d.instance);
    if (instance) await deps.store.saveInstanceState(abandonSlot(instance, d.toColor, deps.clock.now()));
  }
  await release?.();
  const settled = deps.journal.settleFailed(d, step, err);
  await deps.journal.save(settled.deployment).catch(() => undefined);
  await deps.store.appendAudit(settled.audit).catch(() => undefined);
  deps.log?.warn({ deployment: d.id, instance: d.instance, code: err.code, ...(d.rollback ? { rollback: d.rollback } : {}) }, err.message);
}
