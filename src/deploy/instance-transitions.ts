import { slotConfigOf } from './deploy-config.ts';
import type { Color } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord } from '../store/index.ts';
import { batchStarted, finalised, flipDone, kindOf, runningStep, shiftStarted, slotStarted } from './steps.ts';

/**
 * The instance after a successful flip: the new colour is live and current; the old one stays warm
 * until the rollback window ends.
 */
export function finaliseInstance(
  instance: InstanceRecord,
  deployment: DeploymentRecord,
  now: number,
  rollbackWindowMs: number,
): InstanceRecord {
  const next = structuredClone(instance);
  next.currentVersion = deployment.toVersion;
  next.activeColor = deployment.toColor;
  // A flip to the warm slot keeps the config that slot runs; a started slot records the deployment's.
  const kept = next.slots[deployment.toColor];
  const config = deployment.strategy === 'flip-to-warm' && kept?.version === deployment.toVersion ? slotConfigOf(kept) : slotConfigOf(deployment);
  next.slots[deployment.toColor] = { version: deployment.toVersion, status: 'live', deploymentId: deployment.id, ...config };
  const from = deployment.fromColor;
  if (from && from !== deployment.toColor) {
    const old = next.slots[from];
    if (old) next.slots[from] = { ...old, status: 'warm', warmUntil: now + rollbackWindowMs };
  }
  next.updatedAt = now;
  return next;
}

/** The instance after a deployment failed before its flip: the active slot is untouched, the new one is gone. */
export function abandonSlot(instance: InstanceRecord, color: Color, now: number): InstanceRecord {
  const next = structuredClone(instance);
  if (next.activeColor !== color) next.slots[color] = null;
  next.updatedAt = now;
  return next;
}

/** Warm slots whose rollback window has ended at `now`: they are drained and stopped. */
export function expiredWarmSlots(instances: InstanceRecord[], now: number): { instance: string; color: Color }[] {
  const due: { instance: string; color: Color }[] = [];
  for (const i of instances) {
    for (const color of ['blue', 'green'] as const) {
      const slot = i.slots[color];
      if (slot?.status === 'warm' && color !== i.activeColor && (slot.warmUntil ?? 0) <= now) {
        due.push({ instance: i.name, color });
      }
    }
  }
  return due;
}

/** What undoing a failed deployment takes, decided from its record alone (see {@link undoAfterFailure}). */
export interface Undo {
  /** Kill the test still running on the agent (the deployment failed or was aborted during it). */
  cancelTest: boolean;
  /** Close the preview the smoke test opened. */
  closePreview: boolean;
  /**
   * Put clients back on this colour: those a weighted step sent to the new one (before the flip),
   * or everyone, onto the warm slot (after the flip: a rollback, checked to serve `version` healthy).
   */
  flipBack: { color: Color; version: string | null; afterFlip: boolean } | null;
  /** Stop the new slot and forget it in the store (it is this deployment's, and no user is left on it). */
  stopNewSlot: boolean;
}

/**
 * The undo for each failure point (pure). Before the flip: clients of a weighted step go back,
 * the new slot stops, the old one was never touched. After the flip and before `finalise` (its
 * `verify` test failed, an abort or the bake stopped it, its server died): everyone flips back to
 * the warm slot, then the new slot stops. After `finalise` nothing is undone here: that is a
 * rollback's job. `ownSlot` false (recovery found the slot is someone else's) touches no slot.
 */
export function undoAfterFailure(d: DeploymentRecord, ownSlot = true): Undo {
  const running = runningStep(d) ? kindOf(runningStep(d)!.name) : undefined;
  const tests = { cancelTest: running === 'smoke' || running === 'verify', closePreview: running === 'smoke' };
  if (!ownSlot) return { ...tests, flipBack: null, stopNewSlot: false };
  const startedHere = d.strategy === 'start-and-flip';
  if (d.rolling && batchStarted(d) && !finalised(d)) {
    // Some batches may have flipped: every machine goes back to the old colour (a no-op where it
    // never left), then the new slots stop everywhere.
    const back = d.fromColor !== null && d.fromColor !== d.toColor;
    return { ...tests, flipBack: back ? { color: d.fromColor!, version: d.fromVersion, afterFlip: true } : null, stopNewSlot: true };
  }
  if (flipDone(d)) {
    const back = startedHere && !finalised(d) && d.fromColor !== null && d.fromColor !== d.toColor;
    return { ...tests, flipBack: back ? { color: d.fromColor!, version: d.fromVersion, afterFlip: true } : null, stopNewSlot: back };
  }
  return {
    ...tests,
    flipBack: shiftStarted(d) && d.fromColor ? { color: d.fromColor, version: d.fromVersion, afterFlip: false } : null,
    stopNewSlot: startedHere && slotStarted(d),
  };
}
