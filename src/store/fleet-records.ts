import type { HaltRecord, NewHalt } from './types.ts';

/**
 * Helpers every store uses for the fleet scheduler's records (settings, holds, halts), so the
 * three dialects agree on the edge cases.
 */

/**
 * The JSON text a setting is stored as. `undefined` (or a function, a symbol) has no JSON form and
 * would read back as "never set", so it is refused rather than silently dropped.
 */
export function settingJson(key: string, value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`setting ${key}: the value must be JSON (got ${typeof value})`);
  return text;
}

/** A new halt as stored: not lifted yet. */
export function newHaltRecord(id: number, halt: NewHalt): HaltRecord {
  return {
    id,
    app: halt.app,
    version: halt.version,
    reason: halt.reason,
    problemId: halt.problemId,
    haltedAt: halt.haltedAt,
    haltedBy: halt.haltedBy,
    liftedBy: null,
    liftedAt: null,
    liftReason: null,
  };
}
