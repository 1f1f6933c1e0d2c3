import { z } from 'zod';

/** An ISO 8601 time in a request, turned into ms since the epoch; `what` says what it bounds. */
export function isoTimeField(what?: string) {
  return z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), `must be an ISO 8601 time like 2026-11-20T10:00:00Z${what ? ` (${what})` : ''}`)
    .transform((s) => Date.parse(s));
}
