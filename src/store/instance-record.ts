import type { InstancePlacement, InstanceRecord, InstanceSpecChange, InstanceTarget, SlotRecord } from './types.ts';

/**
 * Field-by-field copies of instance records. Hand-written rather than `structuredClone` because
 * listing a large fleet copies every record, and because naming the fields drops anything a caller
 * added that a database column would not keep, so every store returns the same shape.
 */

/** A copy of a slot with only the record's fields (`warmUntil` only when set). */
export function copySlot(slot: SlotRecord | null): SlotRecord | null {
  if (!slot) return null;
  const out: SlotRecord = { version: slot.version, status: slot.status, deploymentId: slot.deploymentId };
  if (slot.warmUntil !== undefined) out.warmUntil = slot.warmUntil;
  if (slot.configVersion !== undefined) out.configVersion = slot.configVersion;
  if (slot.configDigest !== undefined) out.configDigest = slot.configDigest;
  return out;
}

/** A copy of a target. */
export function copyTarget(target: InstanceTarget | null): InstanceTarget | null {
  if (!target) return null;
  return 'version' in target ? { version: target.version } : { channel: target.channel };
}

/** A copy of a placement. */
export function copyPlacement(p: InstancePlacement | null | undefined): InstancePlacement | null {
  if (!p) return null;
  return 'selector' in p ? { selector: p.selector } : { machines: [...p.machines] };
}

/** The runtime part of an instance, as `saveInstanceState` writes it. */
export interface InstanceState {
  currentVersion: string | null;
  activeColor: InstanceRecord['activeColor'];
  slots: InstanceRecord['slots'];
}

/** The runtime fields of an instance, copied. */
export function instanceState(i: InstanceRecord): InstanceState {
  return {
    currentVersion: i.currentVersion,
    activeColor: i.activeColor,
    slots: { blue: copySlot(i.slots.blue), green: copySlot(i.slots.green) },
  };
}

/** A deep copy of an instance record with exactly the record's fields. */
export function copyInstance(i: InstanceRecord): InstanceRecord {
  return {
    name: i.name,
    app: i.app,
    hosts: [...i.hosts],
    environment: i.environment,
    tenant: i.tenant,
    labels: { ...i.labels },
    target: copyTarget(i.target),
    window: i.window ?? null,
    placement: copyPlacement(i.placement),
    currentVersion: i.currentVersion,
    activeColor: i.activeColor,
    slots: { blue: copySlot(i.slots.blue), green: copySlot(i.slots.green) },
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  };
}

/** Applies a spec change to a record in place: fields absent (undefined) in the change stay. */
export function applySpecChange(i: InstanceRecord, change: InstanceSpecChange, at: number): void {
  if (change.hosts !== undefined) i.hosts = [...change.hosts];
  if (change.environment !== undefined) i.environment = change.environment;
  if (change.tenant !== undefined) i.tenant = change.tenant;
  if (change.labels !== undefined) i.labels = { ...change.labels };
  if (change.target !== undefined) i.target = copyTarget(change.target);
  if (change.window !== undefined) i.window = change.window;
  if (change.placement !== undefined) i.placement = copyPlacement(change.placement);
  i.updatedAt = at;
}

/** Names of `changes` that are not in `exists`, each once, in the order of `changes`. */
export function missingInstances(changes: InstanceSpecChange[], exists: (name: string) => boolean): string[] {
  const missing = new Set<string>();
  for (const c of changes) if (!exists(c.name)) missing.add(c.name);
  return [...missing];
}
