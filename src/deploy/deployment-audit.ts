import type { Actor, CutoverError } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { DeploymentRecord, NewAuditEntry, StepRecord } from '../store/index.ts';
import { flipDone } from './steps.ts';

/** Where an instance is as far as traffic goes: the version and colour it serves. */
export interface InstancePosition {
  version: string | null;
  color: DeploymentRecord['fromColor'];
}


/** Whether `d` flipped traffic to its release. */
export const flippedIn = flipDone;

/** Where `d` leaves its instance: its release once flipped, else where the instance was (nothing changed). */
export function positionAfter(d: DeploymentRecord, flipped: boolean): InstancePosition {
  return flipped ? { version: d.toVersion, color: d.toColor } : { version: d.fromVersion, color: d.fromColor };
}

/**
 * An audit entry about deployment `d`: by its own actor, with the version change (`after`: where the
 * instance is left; by default the new release), or by whoever steers it (`by`; no version change).
 */
export function deploymentEntry(
  at: number,
  d: DeploymentRecord,
  action: string,
  details: Record<string, unknown>,
  by?: Actor,
  after?: InstancePosition,
): NewAuditEntry {
  // Who: the steerer, or the deployment's own actor with its reason and request.
  const who: Actor = by ?? { actor: d.actor, requestId: d.requestId ?? null, ...(d.reason ? { reason: d.reason } : {}) };
  return auditEntry(who, action, d.instance, {
    at,
    instance: d.instance,
    app: d.app ?? null,
    version: d.toVersion,
    ...(by ? {} : { before: { version: d.fromVersion, color: d.fromColor }, after: after ?? positionAfter(d, true) }),
    details: { deployment: d.id, ...details },
  });
}

/**
 * Marks `d` failed (or aborted) with `err` at its running `step`, and builds its audit entry: `after`
 * is where the instance is left (unchanged before the flip), and `details.attempted` the version and
 * colour it tried. No effects: the caller stores both (in one transaction when superseding).
 */
export function settleFailed(
  now: number,
  d: DeploymentRecord,
  step: StepRecord | undefined,
  err: CutoverError,
  extra: Record<string, unknown> = {},
): { deployment: DeploymentRecord; audit: NewAuditEntry } {
  if (step) {
    step.status = 'failed';
    step.finishedAt = now;
  }
  d.status = err.code === 'DEPLOYMENT_ABORTED' ? 'aborted' : 'failed';
  d.finishedAt = now;
  d.updatedAt = now;
  d.error = { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  const details = {
    to: d.toVersion,
    attempted: { version: d.toVersion, color: d.toColor },
    step: step?.name,
    code: err.code,
    message: err.message,
    // The metric snapshot behind an analysis verdict belongs with the decision.
    ...(err.code === 'ANALYSIS_FAILED' ? { analysis: err.details?.analysis } : {}),
    ...(d.rollback ? { rollback: d.rollback } : {}),
    ...extra,
  };
  // Flipped, then flipped back to the warm slot: the instance is where it was.
  const leftOnNew = flippedIn(d) && d.rollback === undefined;
  return { deployment: d, audit: deploymentEntry(now, d, `${d.kind}.${d.status}`, details, undefined, positionAfter(d, leftOnNew)) };
}
