import { z } from 'zod';
import { invalidInput } from '../shared/index.ts';
import type { CutoverError } from '../shared/index.ts';
import type { HealthSpec } from '../shared/index.ts';
import {
  DIGEST_PATTERN,
  RELEASE_DEFAULTS,
  buildUrlField,
  checkSpawnSize,
  commitField,
  componentsField,
  envField,
  requiresField,
  featuresField,
  healthPathField,
  migrationsField,
  msField,
  nameField,
  normalizeComponents,
  normalizeFeatures,
  normalizeMigrations,
  notesField,
  startField,
  tagField,
  thresholdField,
  versionField,
} from './release-fields.ts';
import { plainIssues, toFieldIssues } from './to-field-issues.ts';
import { tagNamesVersion } from './git-tag.ts';
import { specTestsField } from './release-tests.ts';
import type { ReleaseTests } from './release-tests.ts';

/** One deployable part of a release, e.g. `web` or `worker`, with its own version. */
export interface ReleaseComponent {
  name: string;
  version: string;
  /** What it is built into: an image reference (`registry/web@sha256:…`), a file name… (≤ 512 chars). */
  artifact?: string;
}

/** A schema migration the release brings, in the order they run. */
export interface ReleaseMigration {
  /** Unique within the release, e.g. `0007_add_orders`. */
  id: string;
  description?: string;
}

/** Where the app reports the work it still has to finish when asked to stop. */
export interface DrainEndpoint {
  path: string;
  /** Between two polls; default 1000. */
  intervalMs?: number;
}

/** A user-visible capability a release brings; reversion previews list these. */
export interface ReleaseFeature {
  key: string;
  title: string;
  description?: string;
}

/** A release as the API accepts it and the store keeps it. All durations in milliseconds. */
export interface ReleaseSpec {
  app: string;
  version: string;
  /** The packed artifact: `sha256:<64 hex>` of the .tgz bytes, and its size in bytes. */
  artifact: { digest: string; size: number };
  /** Shell command run in the unpacked artifact directory. */
  start: string;
  health: HealthSpec;
  /** How long a new slot may take to become healthy. */
  deployTimeoutMs: number;
  /** Grace between SIGTERM and SIGKILL. */
  stopTimeoutMs: number;
  /**
   * The app's own drain endpoint, polled during the stop grace of an old slot to show "N jobs still
   * running" in progress (GET; JSON `{pending, message}`; 204 or `pending: 0` means done).
   */
  drain?: DrainEndpoint;
  /** Plain, non-secret configuration passed to the process. */
  env: Record<string, string>;
  /** App-config keys a deployment needs from some layer; missing ones refuse it before anything starts. */
  requires?: string[];
  components: ReleaseComponent[];
  features: ReleaseFeature[];
  /** In run order; `[]` for releases stored before migrations existed. */
  migrations: ReleaseMigration[];
  notes: string;
  commit?: string;
  /** The git tag it was built from; names `version` (with or without a leading `v`). */
  tag?: string;
  buildUrl?: string;
  /** Tests the release brings: `smoke` before the flip, `verify` after it (absent: none). */
  tests?: ReleaseTests;
}

const d = RELEASE_DEFAULTS;

const healthSpecSchema = z.strictObject(
  {
    path: healthPathField.default(d.health.path),
    intervalMs: msField('time between probes', 1).default(d.health.intervalMs),
    timeoutMs: msField('time a probe may take', 1).default(d.health.timeoutMs),
    healthyThreshold: thresholdField('consecutive successes before healthy').default(d.health.healthyThreshold),
    unhealthyThreshold: thresholdField('consecutive failures before unhealthy').default(d.health.unhealthyThreshold),
  },
  { error: 'must be an object with path, intervalMs, timeoutMs, healthyThreshold, unhealthyThreshold' },
);

const drainSchema = z.strictObject(
  {
    path: healthPathField.describe('HTTP path polled with GET while the slot stops, e.g. "/drain".'),
    intervalMs: msField('time between drain polls', 100).optional(),
  },
  { error: 'must be an object with path and optionally intervalMs' },
);

const artifactRefSchema = z.strictObject(
  {
    digest: z
      .string({ error: 'required: the artifact digest, "sha256:" followed by 64 lowercase hex digits' })
      .regex(DIGEST_PATTERN, 'must be "sha256:" followed by 64 lowercase hex digits'),
    size: z
      .int({ error: 'must be the artifact size in bytes' })
      .min(0, 'must not be negative')
      .max(Number.MAX_SAFE_INTEGER, 'is too large'),
  },
  { error: (iss) => (iss.input === undefined ? 'required: { digest, size } of the uploaded artifact' : 'must be an object { digest, size }') },
);

/**
 * The schema of a release in an API body: strict (unknown keys are errors), with the same
 * field rules as the YAML manifest and the same defaults. The components list defaults to one
 * component named after the app with the release version.
 */
export const releaseSpecSchema = z
  .strictObject(
    {
      app: nameField('the app name, e.g. "hello"').describe('Application name.'),
      version: versionField.describe('Strict semver release version, e.g. "1.2.0-beta.2".'),
      artifact: artifactRefSchema.describe('The uploaded artifact: sha256 digest of the .tgz bytes and its size.'),
      start: startField.describe('Shell command run in the unpacked artifact directory.'),
      health: healthSpecSchema.prefault({}).describe('How the supervisor decides a slot is healthy.'),
      deployTimeoutMs: msField('how long a new slot may take to become healthy', 1)
        .default(d.deployTimeoutMs)
        .describe('How long a new slot may take to become healthy, in ms.'),
      stopTimeoutMs: msField('grace between SIGTERM and SIGKILL', 0).default(d.stopTimeoutMs).describe('Grace between SIGTERM and SIGKILL, in ms.'),
      drain: drainSchema.optional().describe("The app's drain endpoint, polled while an old slot stops to show the work left."),
      env: envField.prefault({}).describe('Plain, non-secret configuration passed to the process.'),
      requires: requiresField.optional().describe('App-config keys (plain or secret) a deployment needs from some layer; a missing one refuses it before anything starts.'),
      components: componentsField.optional().describe('Components and their versions; defaults to one named after the app.'),
      features: featuresField.default([]).describe('User-visible features this release contains; keys unique.'),
      migrations: migrationsField.default([]).describe('Schema migrations this release brings, in run order; ids unique.'),
      notes: notesField.default('').describe('Free-text release notes.'),
      commit: commitField.optional().describe('Commit the release was built from.'),
      tag: tagField.optional().describe('Git tag the release was built from; must name `version`, e.g. "v1.2.0" or "1.2.0".'),
      buildUrl: buildUrlField.optional().describe('URL of the CI build.'),
      tests: specTestsField.optional().describe('Tests the release brings: smoke (before the flip, through the preview route) and verify (after it).'),
    },
    { error: 'must be a JSON object describing the release' },
  )
  .superRefine(checkSpawnSize)
  .superRefine((spec, ctx) => {
    // The same rule as `release publish --git-tag`, for every client: one version for code and artifact.
    if (spec.tag !== undefined && !tagNamesVersion(spec.tag, spec.version)) {
      ctx.addIssue({ code: 'custom', path: ['tag'], message: `"${spec.tag}" does not name version ${spec.version}; the tag must be "v${spec.version}" or "${spec.version}"` });
    }
  })
  .transform((spec): ReleaseSpec => {
    const { components, commit, tag, buildUrl, tests, requires, ...rest } = spec;
    return {
      ...rest,
      components: components ? normalizeComponents(components) : [{ name: spec.app, version: spec.version }],
      features: normalizeFeatures(spec.features),
      migrations: normalizeMigrations(spec.migrations),
      ...(commit === undefined ? {} : { commit }),
      ...(tag === undefined ? {} : { tag }),
      ...(buildUrl === undefined ? {} : { buildUrl }),
      ...(tests === undefined || Object.keys(tests).length === 0 ? {} : { tests }),
      ...(requires === undefined || requires.length === 0 ? {} : { requires }),
    };
  });

/**
 * Validates an API body as a release. Throws `MANIFEST_INVALID` listing every problem by path
 * (`health.intervalMs`, `components[1].name`, `artifact.digest`).
 */
export function parseReleaseSpec(input: unknown): ReleaseSpec {
  const result = releaseSpecSchema.safeParse(input);
  if (!result.success) throw manifestInvalid(result.error);
  return result.data;
}

/** `MANIFEST_INVALID` for a release spec that failed `releaseSpecSchema`, every problem by path. */
export function manifestInvalid(error: z.ZodError): CutoverError {
  return invalidInput('MANIFEST_INVALID', 'The release spec', plainIssues(toFieldIssues(error, releaseSpecSchema)));
}

/**
 * The spec of a stored release. The store keeps it as JSON it checked when the release was
 * published (`parseReleaseSpec`), so it is not validated again; this is the one place that says so.
 */
export function releaseSpecOf(record: { spec: Record<string, unknown> }): ReleaseSpec {
  return record.spec as unknown as ReleaseSpec;
}
