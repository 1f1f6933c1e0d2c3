import type { z } from 'zod';
import type { FieldIssue } from '../shared/index.ts';

/** Formats a path the way users write it in YAML: `health.interval`, `components[1].name`, `env["A B"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** A `FieldIssue` that still carries its raw path, so callers can locate it in a source file. */
export interface KeyedIssue extends FieldIssue {
  keys: readonly PropertyKey[];
  /** The key itself is the problem (unknown key), not its value. */
  unknownKey?: boolean;
}

/** Drops the raw paths, leaving plain `FieldIssue`s for an error's details. */
export function plainIssues(issues: readonly KeyedIssue[]): FieldIssue[] {
  return issues.map(({ path, message }) => ({ path, message }));
}

/**
 * Turns zod issues into `FieldIssue`s addressed by YAML-style paths. An object with several
 * unknown keys yields one issue per key, at the key's own path, with a "did you mean" hint.
 */
export function toFieldIssues(error: z.ZodError, schema: z.ZodType): KeyedIssue[] {
  const issues: KeyedIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const keys = [...issue.path, key];
        issues.push({ path: formatPath(keys), message: unknownKeyMessage(key, known), keys, unknownKey: true });
      }
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message, keys: issue.path });
    }
  }
  return issues;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const guess = closest(key, known);
  if (guess) return `unknown key; did you mean "${guess}"?`;
  return known.length > 0 ? `unknown key; remove it (allowed here: ${known.join(', ')})` : 'unknown key; remove it';
}

function closest(key: string, candidates: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = norm(key) === norm(candidate) ? 0 : distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

// Levenshtein distance; keys are short, so the quadratic table is cheap.
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
}

// Walks the schema definition to the object at `path`, to list the keys it allows.
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def: Def | undefined = (schema as unknown as { _zod: { def: Def } })._zod.def;
  let i = 0;
  while (def) {
    const inner: { _zod: { def: Def } } | undefined = def.innerType ?? def.in;
    if (inner) {
      def = inner._zod.def;
      continue;
    }
    if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    const key = path[i++];
    if (def.type === 'object') def = typeof key === 'string' ? def.shape?.[key]?._zod.def : undefined;
    else if (def.type === 'array') def = def.element?._zod.def;
    else if (def.type === 'record') def = def.valueType?._zod.def;
    else def = undefined;
  }
  return [];
}
