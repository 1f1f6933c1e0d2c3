import type { DeploymentRecord, StepName } from '../store/index.ts';
import { servesDeployment, slotOf } from './lease-recovery.ts';
import type { RuntimeInstance } from './runtime.ts';
import { flipDone, flipStarted, slotStarted, stepNamed } from './steps.ts';

/** What the replica that took a dead replica's deployment does with it (see {@link resumePlan}). */
export type ResumePlan =
  /** Run the steps not done yet, from `from` (null: every step is done, only the end is recorded). */
  | { resume: true; from: StepName | null }
  /**
   * Settle it as failed, with `why`. `ownSlot`: the new slot is still this deployment's and no user
   * is on it, so the failure path may stop it; `afterFlip`: users were on the new release, so the
   * failure path flips them back to the warm slot (when it is still there).
   */
  | { resume: false; why: string; ownSlot: boolean };

/** What the runtime and the store say about a deployment its replica left running. */
export interface ResumeFacts {
  /** The agent's report of the instance (undefined: it does not know the instance). */
  seen: RuntimeInstance | undefined;
  /** Who started the slot the deployment deploys to: itself for a start-and-flip, the instance record's for a flip to warm. */
  startedBy: string | undefined;
  /** The deployment's release is still published (its spec is needed to run the remaining steps). */
  published: boolean;
  /**
   * Its lease is gone (its server released it, then died before recording the end; or another
   * deployment took the instance since): only the end is recorded, no step runs again.
   */
  noLease?: boolean;
}

/**
 * Whether a deployment whose replica died can be resumed from its last persisted step, decided from
 * plain data. Every step is safe to run again (ADR 0026): a start is a `once` call keyed by the
 * deployment, a flip to the colour already active changes nothing, a test is joined by its key.
 * What cannot be resumed fails as before, touching only this deployment's own slot:
 * - its release was deleted;
 * - it lost its lease with steps left (a newer deployment may have run since);
 * - its new slot is gone after it was started (the agent does not know it, or another deployment
 *   reused the colour): before the flip users never saw it; after the flip (users were put back by
 *   someone: the bake, a local rollback) nothing of it serves any more.
 * A start that was running may not have reached the agent: it is sent again, with the same key.
 */
export function resumePlan(d: DeploymentRecord, facts: ResumeFacts): ResumePlan {
  const from = d.steps.find((s) => s.status !== 'done')?.name ?? null;
  const own = slotOf(d, facts.seen, facts.startedBy) !== undefined;
  const serves = servesDeployment(d, facts.seen, facts.startedBy);
  const fail = (why: string, ownSlot: boolean): ResumePlan => ({ resume: false, why, ownSlot });
  if (!facts.published) return fail(`its release ${d.toVersion} was deleted`, own && !flipDone(d) && !serves);
  // Without its lease a newer deployment may have run meanwhile: acting again could undo it.
  if (facts.noLease && from !== null) return fail(`its lease was given up before step ${from} ended`, own && !flipDone(d) && !serves);
  if (flipDone(d)) {
    return serves ? { resume: true, from } : fail(`${d.toVersion} no longer serves after its flip; the agent serves ${facts.seen?.active ?? 'nothing'}`, false);
  }
  if (d.rolling) return { resume: true, from }; // a batch starts, checks and flips its machines again, each a repeatable call
  if (flipStarted(d) && serves) return { resume: true, from }; // the flip reached the agent: sending it again changes nothing
  if (!slotStarted(d) || d.strategy === 'flip-to-warm') return { resume: true, from };
  if (own) return { resume: true, from };
  // A start that was running may not have reached the agent: it is sent again.
  if (stepNamed(d, 'start')?.status === 'running') return { resume: true, from };
  return fail(`the agent no longer runs the ${d.toColor} slot it started (${facts.seen ? 'another release or deployment holds it' : 'the agent does not know the instance'})`, false);
}
