import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { HoldRecord, Store } from '../store/index.ts';

import type { Actor } from '../shared/index.ts';
import { isoTimeField } from './iso-time.ts';
import { auditEntry, mustGetInstance } from '../store/index.ts';

type Deps = { store: Store; clock: Clock };

const isoTime = isoTimeField();

export const holdSchema = z
  .object({
    reason: z.string().trim().min(1, 'is required: say why the scheduler must leave this instance alone').max(500),
    until: isoTime.optional().describe('When the hold ends by itself; default: until released.'),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type HoldInput = z.output<typeof holdSchema>;

export const unholdSchema = z.object({ reason: z.string().max(500).optional() }).strict();
/** The validated body (the route parses it once, at the API edge). */
export type UnholdInput = z.output<typeof unholdSchema>;

/** Puts a hold on an instance: the fleet scheduler never changes it while the hold lasts. */
export async function holdInstance(deps: Deps, name: string, input: HoldInput, who: Actor): Promise<HoldRecord> {
  const { reason, until } = input;
  const instance = await mustGetInstance(deps.store, name);
  const now = deps.clock.now();
  if (until !== undefined && until <= now) {
    throw new CutoverError('VALIDATION_FAILED', `--until ${new Date(until).toISOString()} has already passed; give a time in the future`);
  }
  const before = (await deps.store.listHolds()).find((h) => h.instance === name) ?? null;
  const hold: HoldRecord = { instance: name, owner: who.actor, reason, createdAt: now, until: until ?? null };
  await deps.store.putHold(hold, auditEntry(who, 'instance.hold', name, {
    at: now,
    instance: name,
    app: instance.app,
    reason,
    before,
    after: hold,
  }));
  return hold;
}

/** Releases an instance's hold. */
export async function unholdInstance(deps: Deps, name: string, input: UnholdInput, who: Actor): Promise<HoldRecord> {
  const { reason } = input;
  const instance = await mustGetInstance(deps.store, name);
  const before = (await deps.store.listHolds()).find((h) => h.instance === name);
  if (!before) throw new CutoverError('HOLD_NOT_FOUND', `instance "${name}" has no hold`, { details: { instance: name } });
  const deleted = await deps.store.deleteHold(name, auditEntry(who, 'instance.unhold', name, {
    at: deps.clock.now(),
    instance: name,
    app: instance.app,
    reason: reason ?? null,
    before,
    after: null,
  }));
  if (!deleted) throw new CutoverError('HOLD_NOT_FOUND', `the hold on "${name}" was released meanwhile`);
  return before;
}

/** Holds in force at `now` (expired ones are left out). */
export async function activeHolds(store: Store, now: number): Promise<HoldRecord[]> {
  return (await store.listHolds()).filter((h) => h.until === null || h.until > now);
}
