// Field schemas shared by the YAML manifest and the API body, so the CLI and the server
// accept exactly the same values and word their complaints the same way.
import { z } from 'zod';
import { parseDuration } from '../shared/index.ts';
import { versionProblem } from './compare-versions.ts';
import { envEntryProblems, keyFitsPath, spawnSizeProblem } from './env-bounds.ts';

/** `sha256:` and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Application and component names: DNS-label-like, so they fit hostnames, paths and process names. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** Defaults applied to every optional manifest field (durations in milliseconds). */
export const RELEASE_DEFAULTS = {
  health: { path: '/', intervalMs: 1000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
  deployTimeoutMs: 60_000,
  stopTimeoutMs: 10_000,
} as const;

/** Longest duration accepted anywhere in a release: one day keeps every timer well below 2^31 ms. */
export const MAX_DURATION_MS = 86_400_000;

// Variables the supervisor sets itself; letting a release override them would break routing.
const RESERVED_ENV = new Set(['PORT', 'APP_VERSION']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FEATURE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Migration ids: the same shape as feature keys, e.g. `0007_add_orders`. */
export const MIGRATION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A string field whose "required" and "wrong type" messages say what belongs there. */
export function text(what: string, max = 4096) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? `required: ${what}` : `must be a string: ${what}`) })
    .max(max, `must be at most ${max} characters`);
}

export function nameField(what: string) {
  return text(what, 63).regex(
    NAME_PATTERN,
    'must start with a lowercase letter and contain only lowercase letters, digits and "-" (at most 63 characters)',
  );
}

export const versionField = z
  .string({
    error: (iss) =>
      iss.input === undefined ? 'required: the release version, like "1.2.3"' : 'must be a version string like "1.2.3" (quote it in YAML)',
  })
  .superRefine((value, ctx) => {
    const problem = versionProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const startField = text('the shell command that starts the app, e.g. "node server.js"')
  .refine((s) => s.trim().length > 0, 'must not be empty: give the shell command that starts the app')
  .refine((s) => !s.includes('\0'), 'must not contain a NUL byte, which no process can receive');

/** The env and start command together must fit what execve accepts; reported at `env`. */
export function checkSpawnSize(spec: { start: string; env?: Record<string, string> | undefined }, ctx: z.RefinementCtx): void {
  const problem = spawnSizeProblem(spec.start, spec.env ?? {});
  if (problem) ctx.addIssue({ code: 'custom', path: ['env'], message: problem.message });
}

export const healthPathField = text('the HTTP path to probe, e.g. "/healthz"', 2048).regex(
  /^\/\S*$/,
  'must be an absolute HTTP path starting with "/" and without spaces, e.g. "/healthz"',
);

export function thresholdField(what: string) {
  return z
    .int({ error: (iss) => (iss.input === undefined ? `required: ${what}` : `must be a whole number (${what})`) })
    .min(1, `must be a whole number of at least 1 (${what})`)
    .max(1000, 'must be at most 1000');
}

/** A duration already in milliseconds (API body). */
export function msField(what: string, min: number) {
  return z
    .int({ error: (iss) => (iss.input === undefined ? `required: ${what}` : `must be a whole number of milliseconds (${what})`) })
    .min(min, `must be at least ${min} ms`)
    .max(MAX_DURATION_MS, `must be at most ${MAX_DURATION_MS} ms (one day)`);
}

const DURATION_HINT = 'like "250ms", "5s", "2m" or a number of milliseconds';

/** A human duration (manifest): `250ms`, `5s`, `2m`, or a number of milliseconds; yields milliseconds. */
export function durationField(what: string, min: number) {
  return z
    .union([z.string(), z.number()], { error: `must be a duration ${DURATION_HINT} (${what})` })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be a duration ${DURATION_HINT}, not ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (ms < min || ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} ms and one day (${what})` });
        return z.NEVER;
      }
      return ms;
    });
}

/** Plain config values; numbers and booleans become strings because the process sees strings anyway. */
/** `requires:` the app-config keys a deployment of the release needs from some layer (docs/app-config.md). */
export const requiresField = z
  .array(
    z.string().refine((k) => ENV_NAME.test(k) && !RESERVED_ENV.has(k) && !k.startsWith('CUTOVER_'), {
      error: 'must be a variable name that is not reserved (letters, digits and "_"; not PORT, APP_VERSION or CUTOVER_*)',
    }),
    { error: 'must be a list of variable names, e.g. [DATABASE_URL]' },
  )
  .max(1000);

export const envField = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], {
      error: 'must be a string, number or boolean (secrets do not belong here)',
    }),
    { error: 'must be a mapping of variable names to values' },
  )
  .superRefine((env, ctx) => {
    for (const p of envEntryProblems(env)) ctx.addIssue({ code: 'custom', path: p.keys, message: p.message });
    for (const key of Object.keys(env)) {
      // Already reported, shortened, by envEntryProblems; its path would repeat the whole key.
      if (!keyFitsPath(key)) continue;
      if (!ENV_NAME.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is not a valid variable name (letters, digits and "_", not starting with a digit)' });
      } else if (RESERVED_ENV.has(key) || key.startsWith('CUTOVER_')) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is set by Cutover for every slot; remove it or rename it' });
      }
    }
  })
  .transform((env) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) as Record<string, string>);

/** What a component is built into: an image reference, a file name… free text, kept as written. */
export const componentArtifactField = text('the component artifact, e.g. "registry.example.com/web@sha256:…" or "web.tgz"', 512).refine(
  // eslint-disable-next-line no-control-regex
  (s) => s.trim() === s && s !== '' && !/[\u0000-\u001f\u007f]/.test(s),
  'must be a non-empty reference without surrounding spaces or control characters',
);

export const componentSchema = z.strictObject(
  {
    name: nameField('the component name, e.g. "web"'),
    version: versionField,
    artifact: componentArtifactField.optional(),
  },
  { error: 'must be a mapping with name, version and an optional artifact' },
);

export const featureSchema = z.strictObject(
  {
    key: text('a unique feature key, e.g. "new-checkout"', 100).regex(
      FEATURE_KEY,
      'must start with a letter or digit and contain only letters, digits, ".", "_" and "-" (at most 100 characters)',
    ),
    title: text('a short human title', 200).refine((s) => s.trim().length > 0, 'must not be empty'),
    description: text('a longer description', 4000).optional(),
  },
  { error: 'must be a mapping with key, title and an optional description' },
);

export const migrationSchema = z.strictObject(
  {
    id: text('the migration id, e.g. "0007_add_orders"', 100).regex(
      MIGRATION_ID,
      'must start with a letter or digit and contain only letters, digits, ".", "_" and "-" (at most 100 characters)',
    ),
    description: text('what the migration does', 4000).optional(),
  },
  { error: 'must be a mapping with id and an optional description' },
);

/** An array whose elements must be unique by `field`; every repeat is reported at its own index. */
export function uniqueBy<T extends z.ZodType>(element: T, field: string, what: string) {
  return z.array(element, { error: `must be a list of ${what}` }).superRefine(
    (items, ctx) => {
      if (!Array.isArray(items)) return;
      const seen = new Map<unknown, number>();
      items.forEach((item: unknown, index) => {
        if (item === null || typeof item !== 'object') return;
        const value = (item as Record<string, unknown>)[field];
        if (typeof value !== 'string') return;
        const first = seen.get(value);
        if (first === undefined) seen.set(value, index);
        else ctx.addIssue({ code: 'custom', path: [index, field], message: `"${value}" is already used by item ${first}; ${field}s must be unique` });
      });
    },
    // Report duplicates even when another element is malformed, so one run shows every problem.
    { when: () => true },
  );
}

export const componentsField = uniqueBy(componentSchema, 'name', 'components ({ name, version })').min(
  1,
  'must list at least one component (or leave it out to get one named after the app)',
);
export const featuresField = uniqueBy(featureSchema, 'key', 'features ({ key, title, description })');
/** Migrations in the order they run; ids unique. */
export const migrationsField = uniqueBy(migrationSchema, 'id', 'migrations ({ id, description })');

/** Drops absent optional keys, so specs compare and hash the same whichever path built them. */
export function normalizeComponents(components: readonly { name: string; version: string; artifact?: string | undefined }[]) {
  return components.map(({ name, version, artifact }) => (artifact === undefined ? { name, version } : { name, version, artifact }));
}

export function normalizeFeatures(features: readonly { key: string; title: string; description?: string | undefined }[]) {
  return features.map(({ key, title, description }) => (description === undefined ? { key, title } : { key, title, description }));
}

export function normalizeMigrations(migrations: readonly { id: string; description?: string | undefined }[]) {
  return migrations.map(({ id, description }) => (description === undefined ? { id } : { id, description }));
}
export const notesField = text('free-text release notes', 65_536);
export const commitField = text('the commit the release was built from', 100).regex(/^\S+$/, 'must be a commit id without spaces, e.g. "abc1234"');
export const buildUrlField = text('the CI build URL', 2048).refine((s) => {
  try {
    const url = new URL(s);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');
/** The git tag the release was built from (`v1.2.0` or `1.2.0`); it must name the release's version. */
export const tagField = text('the git tag the release was built from, e.g. "v1.2.0"', 200).regex(/^\S+$/, 'must be a git tag without spaces, e.g. "v1.2.0"');
