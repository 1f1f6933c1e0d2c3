import { systemActor } from '../shared/index.ts';
import type { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { LockRecord, Store } from '../store/index.ts';
import { expiredWarmSlots } from './instance-transitions.ts';
import type { Runtime } from './runtime.ts';

export interface WarmSlotExpiryDeps {
  store: Store;
  runtime: Pick<Runtime, 'stopSlot'>;
  clock: Clock;
  /** The lease keeper's lock for an instance (holder, heartbeat, expiry). */
  lockFor: (id: string, instance: string, actor: string) => LockRecord;
  /** Keeps the lease alive while a slot drains (a drain may outlast `lockTtl`); returns the stop. */
  heartbeat?: (id: string, lock: LockRecord, lost: { error?: CutoverError }) => () => void;
}

/**
 * Drains and stops warm slots whose rollback window has ended (`expiredWarmSlots`, pure), each
 * under its instance's lease: while a deployment holds it, the slot waits for the next tick.
 * The lease names no deployment (none runs): its owner says what holds it. Returns how many stopped.
 */
export async function stopExpiredWarmSlots(deps: WarmSlotExpiryDeps): Promise<number> {
  const { store, runtime, clock } = deps;
  let stopped = 0;
  for (const { instance: name, color } of expiredWarmSlots(await store.listInstances(), clock.now())) {
    const lock = { ...deps.lockFor('', name, 'scheduler'), owner: 'scheduler (warm-slot expiry)' };
    if (!(await store.acquireLock(lock, clock.now())).ok) continue; // a deployment is running: next tick
    const stopHeartbeat = deps.heartbeat?.(`warm ${name}`, lock, {});
    try {
      const instance = await store.getInstance(name);
      const slot = instance?.slots[color];
      if (!instance || slot?.status !== 'warm' || instance.activeColor === color) continue;
      await runtime.stopSlot(name, color);
      instance.slots[color] = null;
      instance.updatedAt = clock.now();
      await store.saveInstanceState(instance);
      const entry = { at: clock.now(), instance: name, app: instance.app, version: slot.version, details: { color, version: slot.version } };
      await store.appendAudit(auditEntry(systemActor('scheduler'), 'slot.stopped', name, { ...entry, reason: 'rollback window ended' }));
      stopped++;
    } finally {
      stopHeartbeat?.();
      await store.releaseLock(name, lock.owner);
    }
  }
  return stopped;
}
