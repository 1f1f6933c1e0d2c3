import type { Color } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord } from '../store/index.ts';

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
  next.slots[deployment.toColor] = { version: deployment.toVersion, status: 'live', deploymentId: deployment.id };
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
