// Paging of the list answers (`{items, next}`): a client passes `next` back as `cursor`. The lists
// that paged before issue 14 named it `after` (instances) or `before` (deployments, audit); those
// names keep working, so scripts written for 0.x go on paging.
import { z } from 'zod';
import { invalidInput } from '../shared/index.ts';

/** The `cursor` query parameter of every paged list. */
export const cursorField = z.string().min(1).max(500).optional().describe('Paging: the `next` of the previous page (opaque).');

/**
 * The cursor a request gives: `cursor`, or the list's older name for it (`after`, `before`);
 * both at once is refused, naming `cursor`.
 */
export function cursorOf(query: { cursor?: string | undefined }, oldName: string, old: string | number | undefined): string | undefined {
  if (query.cursor !== undefined && old !== undefined) {
    throw invalidInput('VALIDATION_FAILED', 'The query', [{ path: oldName, message: `is the older name of cursor; give only cursor (the \`next\` of the previous page)` }]);
  }
  return query.cursor ?? (old === undefined ? undefined : String(old));
}

/** A cursor that the server made from a number (an id, a time): anything else is not a `next` it gave. */
export function numericCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^\d{1,16}$/.test(cursor)) {
    throw invalidInput('VALIDATION_FAILED', 'The query', [{ path: 'cursor', message: 'must be the `next` of the previous page, as given' }]);
  }
  return Number(cursor);
}
