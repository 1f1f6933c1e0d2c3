import type { z } from 'zod';
import { invalidInput } from './errors.ts';

/**
 * Parses `input` with `schema`, or throws VALIDATION_FAILED listing every issue by path
 * (`hosts.0`, `health.path`). The one place request bodies and arguments become field issues.
 */
export function validate<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw invalidInput(
    'VALIDATION_FAILED',
    what,
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  );
}
