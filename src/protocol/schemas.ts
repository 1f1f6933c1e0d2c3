// The shapes the control plane and the agent exchange, as zod schemas: the one definition both
// sides read (the `Runtime` port's data types are inferred from them). Requests strip fields they
// do not know, so a newer server can talk to an older agent; answers are strict, and checked in
// tests, so an agent answer that drifts from its schema fails there.
import { z } from 'zod';
import type { HealthSpec } from '../shared/index.ts';

export const colorSchema = z.enum(['blue', 'green']);
/** An artifact's content address, as the artifact store names it. */
export const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256: and 64 hex digits');

export const healthSpecSchema = z.object({
  path: z.string().startsWith('/'),
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  healthyThreshold: z.number().int().positive(),
  unhealthyThreshold: z.number().int().positive(),
}) satisfies z.ZodType<HealthSpec>;

/** What the agent needs to start one slot: the release's command, environment and checks. */
export const slotSpecSchema = z.object({
  instance: z.string().min(1),
  color: colorSchema,
  version: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  start: z.string().min(1),
  env: z.record(z.string(), z.string()),
  health: healthSpecSchema,
  stopTimeoutMs: z.number().int().nonnegative(),
  deploymentId: z.string().min(1),
  /** The app's drain endpoint, polled while the slot stops after its HTTP drain (see the manifest's `drain`). */
  drain: z.object({ path: z.string().startsWith('/'), intervalMs: z.number().int().positive().optional() }).strict().optional(),
});

/** A maintenance page is persisted in the agent state (rewritten at every change), so it is bounded. */
export const maintenanceSchema = z
  .object({
    /** A complete HTML page; default: a short neutral one. */
    html: z.string().max(256 * 1024).optional(),
    /** Sent as `Retry-After`; default 30. */
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
  })
  .strict();

export const healthCheckSeenSchema = z.strictObject({
  ok: z.boolean(),
  /** Wall-clock time the probe started. */
  at: z.number().optional(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number().optional(),
});

/** How a wait for health ended: an unhealthy app is an answer, not an error. */
export const healthResultSchema = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), healthySince: z.number() }),
  z.strictObject({
    ok: z.literal(false),
    reason: z.enum(['exited', 'timeout', 'unhealthy', 'stopped']),
    message: z.string(),
    lastCheck: healthCheckSeenSchema.optional(),
    logTail: z.array(z.string()),
  }),
]);

export const slotReportSchema = z.strictObject({
  color: colorSchema,
  version: z.string(),
  /**
   * The deployment that started the slot. Recovery trusts a slot only when both its version and
   * this id match (a colour is reused by every other deployment). Absent from agents before it was reported.
   */
  deploymentId: z.string().optional(),
  /** The supervisor's state: starting, healthy, unhealthy, restarting, failed, exited, stopping, stopped. */
  state: z.string(),
  /** Crash restarts since the slot started. */
  restarts: z.number().int().nonnegative().optional(),
  /** While the slot stops: what the app's drain endpoint said last ("3 jobs still running"). */
  drain: z
    .strictObject({ done: z.boolean(), pending: z.number().optional(), message: z.string().optional(), error: z.string().optional() })
    .optional(),
  port: z.number().int().optional(),
  pid: z.number().int().optional(),
});

/** What actually runs for an instance. */
export const instanceReportSchema = z.strictObject({
  name: z.string(),
  hosts: z.array(z.string()),
  active: colorSchema.nullable(),
  slots: z.array(slotReportSchema),
  /** While a weighted step is in progress: the colour being shifted to and its share of new clients. */
  shift: z.strictObject({ color: colorSchema, percent: z.number() }).optional(),
  /** True while a preview token is set. */
  preview: z.boolean().optional(),
  /** True while the instance answers with its maintenance page. */
  maintenance: z.boolean().optional(),
  /**
   * `uid`: the instance's slots run as a uid of their own; `none`: as the agent's uid (the agent
   * is not root, or a slot was adopted from an older agent). Absent from older agents.
   */
  isolation: z.enum(['uid', 'none']).optional(),
});

/** Counters of one registered colour, as the router keeps them (see `src/router`'s `stats()`). */
export const colorStatsSchema = z.strictObject({
  color: colorSchema,
  version: z.string(),
  deploymentId: z.string().nullable(),
  /** Share of new clients it gets now, in percent. */
  weight: z.number().optional(),
  /** Requests dispatched to it and not answered yet. */
  inFlight: z.number().int().nonnegative().optional(),
  /** When the colour was registered (ISO 8601): the counters start there. */
  since: z.string(),
  requests: z.number().int().nonnegative(),
  /** Responses by class `1xx`…`5xx`, and `failed`: the 502/504 the router answered itself. */
  responses: z.record(z.string(), z.number()),
  /** Time from dispatch to the app's response headers: non-cumulative counts per upper bound (ms), then the overflow. */
  latency: z.strictObject({
    bucketsMs: z.array(z.number()),
    counts: z.array(z.number()),
    sumMs: z.number().optional(),
    count: z.number().int().nonnegative().optional(),
  }),
});

/** The router's per-colour counters of one instance (since each colour was registered). */
export const instanceStatsSchema = z.strictObject({
  instance: z.string(),
  at: z.string(),
  active: colorSchema.nullable(),
  colors: z.array(colorStatsSchema),
});

export const artifactReportSchema = z.strictObject({
  digest: z.string(),
  size: z.number().int().nonnegative(),
  /** A slot of the runtime runs it or keeps it warm. */
  inUse: z.boolean(),
});

/** The answer of a call that only reports success. */
/** A release's test to run where the instance's slots run (ADR 0020). */
export const testRunSchema = z.object({
  instance: z.string().min(1),
  kind: z.enum(['smoke', 'verify']),
  command: z.string().min(1).max(4096),
  timeoutMs: z.number().int().positive().max(86_400_000),
  /** The artifact whose instance copy the test runs in: the release's, or the test's own. */
  digest: digestSchema,
  /** The release under test (`APP_VERSION`). */
  version: z.string().min(1),
  deploymentId: z.string().min(1),
  /** Reaches the idle slot through the router (smoke); empty after the flip (verify sees what users see). */
  previewToken: z.string().max(200),
});

/** How a test ended: a failing test is an answer, not an error. */
export const testResultSchema = z.strictObject({
  /** Exit code 0, in time, not cancelled. */
  passed: z.boolean(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  cancelled: z.boolean(),
  durationMs: z.number(),
  /** The last 64 KiB of stdout and stderr, the instance's configuration values and the preview token masked. */
  output: z.string(),
  outputBytes: z.number().int().nonnegative(),
  /** SHA-256 (hex) of `output`. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** `CUTOVER_PREVIEW_URL` as the test got it. */
  previewUrl: z.string(),
  /** Why it did not start, when it did not. */
  error: z.string().optional(),
});

/** Where an instance stood: the version its serving colour ran. */
const positionSchema = z.strictObject({ version: z.string(), color: colorSchema });

/**
 * A rollback made on the machine itself while the server was away (`cutover local rollback`):
 * the agent flipped `instance` from `from` to the slot the previous flip had left, `to`, at `at`
 * (ms since the epoch). Kept in the agent's state file until the server acknowledges it
 * (`agent.local.ack`), having recorded it as a rollback deployment.
 */
export const localRollbackSchema = z.strictObject({
  id: z.string().min(1),
  instance: z.string().min(1),
  from: positionSchema,
  to: positionSchema,
  at: z.number(),
});

export const okSchema = z.strictObject({ ok: z.literal(true) });
export const OK = { ok: true } as const;

export type SlotStartSpec = z.infer<typeof slotSpecSchema>;
export type Maintenance = z.infer<typeof maintenanceSchema>;
export type HealthCheckSeen = z.infer<typeof healthCheckSeenSchema>;
export type HealthResult = z.infer<typeof healthResultSchema>;
export type SlotReport = z.infer<typeof slotReportSchema>;
export type InstanceReport = z.infer<typeof instanceReportSchema>;
export type ColorStats = z.infer<typeof colorStatsSchema>;
export type InstanceStats = z.infer<typeof instanceStatsSchema>;
export type ArtifactReport = z.infer<typeof artifactReportSchema>;
export type TestRun = z.infer<typeof testRunSchema>;
export type TestResult = z.infer<typeof testResultSchema>;
export type LocalRollback = z.infer<typeof localRollbackSchema>;

/** A certificate and key pair for the router's TLS listener, as the server sends it (`tls.put`): PEM, key in clear on the session only. */
export const edgePairSchema = z.strictObject({
  hosts: z.array(z.string().min(1)).min(1).max(100),
  cert: z.string().min(1).max(256 * 1024),
  key: z.string().min(1).max(64 * 1024),
  isDefault: z.boolean(),
});

/** A certificate the agent's router serves, as it reports it (never the key). */
export const heldCertificateSchema = z.strictObject({
  hosts: z.array(z.string()),
  fingerprint: z.string(),
  notAfter: z.string(),
  isDefault: z.boolean(),
  /** `server`: from `tls set`; `file`: the agent's watched pair (`tlsCertFile`/`tlsKeyFile`). */
  source: z.enum(['server', 'file']),
});

export type EdgePair = z.infer<typeof edgePairSchema>;
export type HeldCertificate = z.infer<typeof heldCertificateSchema>;
