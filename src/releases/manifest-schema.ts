import { z } from 'zod';
import type { ReleaseSpec } from './release-spec.ts';
import {
  RELEASE_DEFAULTS,
  buildUrlField,
  checkSpawnSize,
  commitField,
  componentsField,
  durationField,
  envField,
  requiresField,
  featuresField,
  healthPathField,
  migrationsField,
  nameField,
  normalizeComponents,
  normalizeFeatures,
  normalizeMigrations,
  notesField,
  startField,
  text,
  thresholdField,
  versionField,
} from './release-fields.ts';
import { manifestTestsField } from './release-tests.ts';

/** A manifest after validation: the release minus the artifact digest, which packing computes. */
export interface LoadedManifest {
  spec: Omit<ReleaseSpec, 'artifact'>;
  /** Absolute path of the artifact directory or .tgz file. */
  artifactPath: string;
  /** Things that are accepted for now but should change (e.g. a duration without a unit), with where they are. */
  warnings?: string[];
}

const d = RELEASE_DEFAULTS;

const healthSchema = z.strictObject(
  {
    path: healthPathField.optional(),
    interval: durationField('time between probes', 1).optional(),
    timeout: durationField('time a probe may take', 1).optional(),
    healthyThreshold: thresholdField('consecutive successes before healthy').optional(),
    unhealthyThreshold: thresholdField('consecutive failures before unhealthy').optional(),
  },
  { error: 'must be a mapping with path, interval, timeout, healthyThreshold, unhealthyThreshold' },
);

/**
 * The YAML manifest after `extends` has been merged and `artifact` resolved to an absolute path.
 * Strict: unknown keys are errors. Durations are human strings; the output is in milliseconds.
 */
export const manifestSchema = z
  .strictObject({
    extends: text('the path of an app config file to extend').optional(),
    app: nameField('the app name, e.g. "hello"'),
    version: versionField,
    artifact: text('a directory or a .tgz/.tar.gz file, relative to this file').min(1, 'must not be empty'),
    start: startField,
    health: healthSchema.optional(),
    deployTimeout: durationField('how long a new slot may take to become healthy', 1).optional(),
    stopTimeout: durationField('grace between SIGTERM and SIGKILL', 0).optional(),
    drain: z
      .strictObject(
        { path: healthPathField, interval: durationField('time between drain polls', 100).optional() },
        { error: 'must be a mapping with path (e.g. /drain) and optionally interval' },
      )
      .optional(),
    env: envField.optional(),
    requires: requiresField.optional(),
    components: componentsField.optional(),
    features: featuresField.optional(),
    migrations: migrationsField.optional(),
    notes: notesField.optional(),
    commit: commitField.optional(),
    buildUrl: buildUrlField.optional(),
    tests: manifestTestsField.optional(),
  })
  .superRefine(checkSpawnSize)
  .transform((m): LoadedManifest => {
    const h = m.health ?? {};
    const spec: Omit<ReleaseSpec, 'artifact'> = {
      app: m.app,
      version: m.version,
      start: m.start,
      health: {
        path: h.path ?? d.health.path,
        intervalMs: h.interval ?? d.health.intervalMs,
        timeoutMs: h.timeout ?? d.health.timeoutMs,
        healthyThreshold: h.healthyThreshold ?? d.health.healthyThreshold,
        unhealthyThreshold: h.unhealthyThreshold ?? d.health.unhealthyThreshold,
      },
      deployTimeoutMs: m.deployTimeout ?? d.deployTimeoutMs,
      stopTimeoutMs: m.stopTimeout ?? d.stopTimeoutMs,
      env: m.env ?? {},
      components: m.components ? normalizeComponents(m.components) : [{ name: m.app, version: m.version }],
      features: normalizeFeatures(m.features ?? []),
      migrations: normalizeMigrations(m.migrations ?? []),
      notes: m.notes ?? '',
    };
    if (m.drain) spec.drain = { path: m.drain.path, ...(m.drain.interval === undefined ? {} : { intervalMs: m.drain.interval }) };
    if (m.commit !== undefined) spec.commit = m.commit;
    if (m.buildUrl !== undefined) spec.buildUrl = m.buildUrl;
    if (m.tests !== undefined && Object.keys(m.tests).length > 0) spec.tests = m.tests;
    if (m.requires !== undefined && m.requires.length > 0) spec.requires = m.requires;
    return { spec, artifactPath: m.artifact };
  });
