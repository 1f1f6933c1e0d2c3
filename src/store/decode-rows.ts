import type { InstanceRecord } from './types.ts';

/** Where a store reports a row it skipped. */
export interface RowLog {
  error(obj: object, msg: string): void;
}

/**
 * Decodes rows one by one: a row that does not decode (a JSON column edited by hand, a value a
 * newer version wrote) is skipped and logged with its key, so one bad row never fails a whole
 * list — and with it the scheduler, the watchers and `/api/status`, which all list.
 */
export function decodeRows<R, T>(rows: readonly R[], decode: (row: R) => T, what: string, keyOf: (row: R) => unknown, log?: RowLog): T[] {
  const out: T[] = [];
  for (const row of rows) {
    try {
      out.push(decode(row));
    } catch (error) {
      log?.error({ table: what, key: String(keyOf(row)), err: (error as Error).message }, `skipped a malformed ${what} row`);
    }
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Throws when a decoded instance lacks the shape the rest of the server relies on (the hosts,
 * the slots object, the active colour): caught by {@link decodeRows}, which then skips the row.
 */
export function assertInstanceShape(i: InstanceRecord): InstanceRecord {
  const problems: string[] = [];
  if (typeof i.name !== 'string') problems.push('name is not a string');
  if (!Array.isArray(i.hosts) || !i.hosts.every((h) => typeof h === 'string')) problems.push('hosts is not a list of strings');
  if (!isObject(i.slots)) problems.push('slots is not an object');
  else {
    for (const c of ['blue', 'green'] as const) {
      const s = i.slots[c] as unknown;
      if (s !== null && (!isObject(s) || typeof s.version !== 'string')) problems.push(`slots.${c} is not a slot`);
    }
  }
  if (i.activeColor !== null && i.activeColor !== 'blue' && i.activeColor !== 'green') problems.push('activeColor is not a colour');
  if (i.currentVersion !== null && typeof i.currentVersion !== 'string') problems.push('currentVersion is not a string');
  if (!isObject(i.labels)) problems.push('labels is not an object');
  if (problems.length > 0) throw new Error(problems.join('; '));
  return i;
}

/** Throws when a deployment body is not a deployment (caught by {@link decodeRows}). */
export function checkDeployment<D extends { id: string; instance: string; status: string }>(d: D): D {
  if (!isObject(d) || typeof d.id !== 'string' || typeof d.instance !== 'string' || typeof d.status !== 'string')
    throw new Error('the body is not a deployment');
  return d;
}

/** Throws when a channel's policy is not an object (caught by {@link decodeRows}). */
export function checkChannel<C extends { name: string; policy: object }>(c: C): C {
  if (typeof c.name !== 'string' || !isObject(c.policy)) throw new Error('policy is not an object');
  return c;
}

/** Throws when an audit entry's JSON columns do not hold what readers expect (caught by {@link decodeRows}). */
export function checkAuditEntry<A extends { details: unknown }>(a: A): A {
  if (!isObject(a.details)) throw new Error('details is not an object');
  return a;
}
