// Response schemas: they document what the API returns in the OpenAPI document, `wire.ts`
// infers the answer types from them (what the CLI reads), and `mount` passes every answer through
// its route's schema: the one place an answer is mapped to the wire. They are exact objects, and
// `wire.ts` checks at compile time that each service's answer fits its schema (the schema's input),
// so the two cannot drift.
import { z } from 'zod';
import type { ErrorCode } from '../shared/index.ts';

/**
 * A time on the wire: the services and the store keep milliseconds since the epoch; answers carry
 * ISO 8601 UTC strings. A codec, so its input is the record's number, its output (the answer and
 * the OpenAPI document) the string, and `z.encode` turns an answer back into the record.
 */
export const isoTime = z
  .codec(z.number().int(), z.iso.datetime(), { decode: (ms) => new Date(ms).toISOString(), encode: (iso) => Date.parse(iso) })
  .describe('ISO 8601 UTC, e.g. 2026-11-20T10:00:00.000Z.');

/**
 * Every list answer of the API: `{items, next}`. `next` is an opaque cursor: pass it back as
 * `cursor` for the following page; null on the last page (and for lists that are never paged).
 */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next: z.string().nullable().describe('Pass back as `cursor` for the next page; null on the last page.'),
  });
}
const target = z.union([z.object({ version: z.string() }), z.object({ channel: z.string() }), z.null()]);
const color = z.enum(['blue', 'green']);
const role = z.enum(['viewer', 'deployer', 'admin', 'publisher']);

export const releaseSchema = z.object({
  app: z.string(),
  version: z.string(),
  digest: z.string().describe('Content hash of the spec.'),
  spec: z.record(z.string(), z.unknown()).describe('The release spec as published.'),
  createdAt: isoTime,
  createdBy: z.string(),
});

const slot = z.object({ version: z.string(), status: z.enum(['starting', 'live', 'warm', 'stopped', 'failed']), deploymentId: z.string(), warmUntil: isoTime.optional() }).nullable();

export const resolvedTargetSchema = z
  .union([
    z.object({ kind: z.literal('none') }),
    z.object({ kind: z.literal('version'), version: z.string(), onTarget: z.boolean() }),
    z.object({ kind: z.literal('channel'), channel: z.string(), version: z.string().nullable(), onTarget: z.boolean() }),
  ])
  .describe('The version the instance should run now, and whether it does.');

export const instanceSchema = z.object({
  name: z.string(),
  app: z.string(),
  hosts: z.array(z.string()),
  environment: z.string(),
  tenant: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  target,
  window: z.string().nullable().describe('Maintenance-window text; null: its environment’s default.'),
  placement: z
    .union([
      z.object({ machines: z.array(z.string()).describe('Named machines (`--machine`, repeatable).') }),
      z.object({ selector: z.string().describe('Every machine whose labels match (`--machine-selector`).') }),
    ])
    .nullable()
    .describe('Where it runs: named machines or a machine label selector; null: the only machine (or the local agent of a server no machine has joined).'),
  currentVersion: z.string().nullable(),
  activeColor: color.nullable(),
  slots: z.object({ blue: slot, green: slot }),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const instanceViewSchema = instanceSchema.extend({ resolvedTarget: resolvedTargetSchema });

const agentCheckSchema = z
  .object({
    ok: z.boolean(),
    state: z.enum(['ok', 'changing', 'unreachable', 'unknown', 'needs-deploy', 'mismatch']),
    problems: z.array(z.string()),
  })
  .describe("The record compared with the agent's answer: `ok` false when the agent is unreachable or the instance is not routed as recorded.");

// What a step saw: free-form, but the times it records are named, so they go on the wire as ISO.
const stepDetail = z
  .looseObject({
    healthySince: isoTime.optional().describe('health: when the slot passed its health check.'),
    flippedAt: isoTime.optional().describe('flip: when the router switched.'),
    shiftedAt: isoTime.optional().describe('a weighted step: when the router shifted.'),
    flips: z.record(z.string(), isoTime).optional().describe('flip, on several machines: when each machine flipped, by name.'),
    unconfirmed: z.array(z.string()).optional().describe('flip: machines that did not acknowledge within `flipTimeout`.'),
    pending: z.array(z.string()).optional().describe('flip: machines not flipped (unreachable, or a rollback they could not take).'),
    machine: z.string().optional().describe('a test step, on several machines: the machine it ran on.'),
    resumedAt: isoTime.optional().describe('a step another replica resumed after the one running it died: when (its `startedAt` stays the first start).'),
    resumedBy: z.string().optional().describe('a resumed step: the replica that resumed it (`<host>/<apiHost>:<apiPort>`, or its server id).'),
    kept: z.boolean().optional().describe('start, resumed: the slot the dead replica had started was kept, not started again.'),
  })
  .describe('What the step saw: health checks, port, timings (durations in ms, named `…Ms`); a test step: command, passed, exitCode, durationMs, sha256, outputBytes, output (the last 64 KiB, secrets masked).');
const healthCheckSeen = z.looseObject({ at: isoTime.optional().describe('When the probe started.') });

const step = z.object({
  name: z.string().describe('prepare, start, health, smoke, shift-<percent>, flip, verify, finalise (in plan order); a rolling deployment: prepare, batch-<n>…, finalise'),
  status: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
  startedAt: isoTime.optional(),
  finishedAt: isoTime.optional(),
  detail: stepDetail.optional(),
});

export const deploymentSchema = z.object({
  id: z.string(),
  instance: z.string(),
  kind: z.enum(['deploy', 'rollback']),
  strategy: z.enum(['start-and-flip', 'flip-to-warm']),
  fromVersion: z.string().nullable(),
  toVersion: z.string(),
  fromColor: color.nullable(),
  toColor: color,
  status: z
    .enum(['running', 'succeeded', 'partial', 'failed', 'aborted'])
    .describe('`partial`: it flipped, but some machines did not confirm or were not reached (`machines`); they converge when back.'),
  steps: z.array(step),
  error: z
    .object({
      code: z.custom<ErrorCode>((v) => typeof v === 'string'),
      message: z.string(),
      details: z.looseObject({ lastCheck: healthCheckSeen.optional().describe('A failed health check: the last probe.') }).optional(),
    })
    .optional(),
  skipTests: z.boolean().optional().describe("An admin deployed it without the release's tests."),
  machines: z
    .object({
      placed: z.array(z.string()).describe('The machines of the instance when it began.'),
      skipped: z.array(z.string()).describe('Unreachable when it began and left out (`--skip-unreachable`, or a rollback).'),
      unconfirmed: z.array(z.string()).describe('Sent the flip, no acknowledgement within `flipTimeout`.'),
      pending: z.array(z.string()).describe('Not flipped: unreachable when the flip was due, or (a rollback) unable to take it.'),
      failed: z.array(z.string()).optional().describe('A rolling deployment: machines that failed within its failure budget, left on the previous release.'),
    })
    .optional()
    .describe('On an instance placed on machines: which took part and how the flip went; the machines left behind converge to the desired state when back.'),
  rolling: z
    .object({ maxUnavailable: z.number(), maxFailures: z.number().optional(), batches: z.array(z.array(z.string())) })
    .optional()
    .describe('A rolling deployment: its batches of machines in order (step `batch-N` is the N-th).'),
  rollback: z
    .object({ strategy: z.literal('flip-to-warm'), toVersion: z.string().nullable(), toColor: color, flippedAt: isoTime, tookMs: z.number() })
    .optional()
    .describe('A failure after the flip (verify, an abort during it) flipped users back to the warm slot: to what, and how long the flip took.'),
  actor: z.string(),
  app: z.string().optional(),
  reason: z.string().optional(),
  requestId: z.string().optional(),
  rollout: z.object({ steps: z.array(z.number()), pauseMs: z.number().nullable(), analysis: z.boolean() }).optional(),
  abort: z.object({ at: isoTime, actor: z.string(), reason: z.string().optional() }).optional(),
  configVersion: z.number().int().optional().describe('The app-config version its slot starts with: a deployment is the pair (release, config version).'),
  configDigest: z.string().optional().describe("The identity of the instance's app config at that version (`''`: none applies)."),
  createdAt: isoTime,
  updatedAt: isoTime,
  finishedAt: isoTime.optional(),
});

/** An instance with what the agent reports and its last deployment (`GET /api/instances/{name}`, `GET /api/status`). */
export const instanceStatusSchema = instanceViewSchema.extend({
  runtime: z.unknown().describe('What the agent reports now; null when it cannot be reached or does not know the instance.'),
  runtimeError: z.string().optional().describe('Why the agent could not be asked.'),
  agent: agentCheckSchema,
  machines: z
    .array(
      z.object({
        name: z.string(),
        connected: z.boolean(),
        serving: z
          .object({ version: z.string(), color: color })
          .nullable()
          .describe('What its router serves the instance from (its active colour), null for nothing.'),
        asOf: isoTime.nullable().describe('When that was seen: now for a connected machine, its last report for one away (null: never).'),
        onDesired: z.boolean().describe('Whether it serves the release the records say is live.'),
        desiredAcked: z.boolean().describe('Whether its agent acknowledged the current number of its desired-state document.'),
      }),
    )
    .optional()
    .describe('Each machine the instance is placed on, with what it serves (asked now, or its last report when away).'),
  settled: z
    .boolean()
    .optional()
    .describe('On machines: every connected machine acknowledged its current desired-state document and serves the live release (the machines away converge when back).'),
  lastDeployment: deploymentSchema.nullable(),
});

export const policySchema = z.object({
  soak: z.object({ channel: z.string(), days: z.number() }).nullable(),
  blockOnOpenProblems: z.boolean(),
  allowPrerelease: z.boolean(),
  autoPromote: z.boolean().optional(),
});
export const pointerSchema = z.object({ app: z.string(), channel: z.string(), version: z.string(), movedAt: isoTime, movedBy: z.string() });
export const moveSchema = z.object({
  id: z.number(),
  app: z.string(),
  channel: z.string(),
  fromVersion: z.string().nullable(),
  toVersion: z.string(),
  at: isoTime,
  actor: z.string(),
  reason: z.string().nullable(),
  forced: z.boolean(),
});

export const channelSchema = z.object({
  name: z.string(),
  description: z.string(),
  policy: policySchema,
  builtIn: z.boolean(),
  createdAt: isoTime,
  createdBy: z.string(),
  updatedAt: isoTime,
});
export const channelViewSchema = channelSchema.extend({ pointers: z.array(pointerSchema) });
export const channelDetailSchema = channelViewSchema.extend({ history: z.array(moveSchema) });

const failure = z.looseObject({
  code: z.string(),
  message: z.string(),
  details: z.looseObject({ eligibleAt: isoTime.optional().describe('When the soak rule is met.') }).describe('Facts about the failed rule.'),
});
export const promotionCheckSchema = z.looseObject({
  app: z.string(),
  version: z.string(),
  channel: z.string(),
  current: z.string().nullable(),
  verdict: z.looseObject({ allowed: z.boolean(), failures: z.array(failure), eligibleAt: isoTime.optional() }),
});
export const promotionResultSchema = promotionCheckSchema.extend({ changed: z.boolean(), forced: z.boolean(), move: moveSchema.nullable() });

export const problemSchema = z.object({
  id: z.number().int(),
  app: z.string(),
  version: z.string(),
  title: z.string(),
  details: z.string().nullable(),
  status: z.enum(['open', 'resolved']),
  source: z.string(),
  reportedBy: z.string(),
  reportedAt: isoTime,
  resolvedBy: z.string().nullable(),
  resolvedAt: isoTime.nullable(),
  resolution: z.string().nullable(),
});

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: isoTime,
  actor: z.string(),
  action: z.string(),
  subject: z.string(),
  instance: z.string().nullable(),
  app: z.string().nullable(),
  version: z.string().nullable(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export const chainCheckSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  last: z.object({ id: z.number().int(), hash: z.string() }).nullable(),
  problem: z.object({ id: z.number().int(), kind: z.enum(['edited', 'deleted', 'truncated']), message: z.string() }).nullable(),
});

export const tokenSchema = z.object({
  name: z.string(),
  role,
  channels: z.array(z.string()).optional().describe('A publisher token: the channels it may promote to.'),
  createdAt: isoTime,
  createdBy: z.string(),
});

export const targetChangeSchema = z.object({
  name: z.string(),
  app: z.string(),
  environment: z.string(),
  tenant: z.string().nullable(),
  before: target,
  after: target,
});

export const releaseDiffSchema = z.looseObject({
  app: z.string(),
  from: z.string(),
  to: z.string(),
  direction: z.enum(['upgrade', 'downgrade', 'same']),
  features: z.looseObject({ added: z.array(z.unknown()), removed: z.array(z.unknown()), changed: z.array(z.unknown()) }),
  components: z.looseObject({ added: z.array(z.unknown()), removed: z.array(z.unknown()), changed: z.array(z.unknown()) }),
  migrations: z.looseObject({ added: z.array(z.string()), removed: z.array(z.string()) }),
  notes: z.array(z.object({ version: z.string(), notes: z.string() })),
});

/** A join token as listed: never the token, never its hash. */
export const joinTokenSchema = z.object({
  id: z.string(),
  createdAt: isoTime,
  createdBy: z.string(),
  expiresAt: isoTime,
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  revokedAt: isoTime.nullable(),
  revokedBy: z.string().nullable(),
  state: z.enum(['usable', 'revoked', 'expired', 'used']),
});

/** A machine: never its credential's hash. */
export const machineSchema = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  address: z.string().nullable().describe('Where the agent\'s last request came from.'),
  agentVersion: z.string(),
  protocolVersion: z.number().int(),
  needsUpgrade: z.boolean().describe('Its agent speaks the protocol version before this server\'s: upgrade it.'),
  joinedAt: isoTime,
  lastHeartbeat: isoTime.nullable(),
  status: z.enum(['active', 'draining', 'removed']),
  credentialRotatedAt: isoTime,
  joinToken: z.string().describe('The id of the join token it joined with.'),
});

/** A machine with the instances placed on it and its drift from its desired state (`machine list`, `show`). */
export const machineViewSchema = machineSchema.extend({
  connected: z.boolean().describe('Its agent has a session now with the server that answered or, on PostgreSQL, with another live replica of the database (which relays to it).'),
  instances: z.array(z.string()).describe('The instances placed on it, by name.'),
  drift: z
    .object({
      state: z.enum(['none', 'pending', 'rejected', 'differs']),
      summary: z.string().describe('One line: `none`, `pending (3, acked 2)`, `rejected: <reason>`, `differs: <first difference>`.'),
      number: z.number().int().optional().describe('The desired-state number it concerns.'),
      ackedNumber: z.number().int().nullable().optional(),
      reason: z.string().optional(),
      differences: z.array(z.string()).optional(),
    })
    .describe("How the machine stands against its desired state: `pending` until the agent acknowledges the current number, `rejected` with the agent's reason, `differs` when its last report serves another version or colour."),
});

/** `POST /api/join-tokens`: the token, shown only in this answer, with what it embeds. */
export const createdJoinTokenSchema = joinTokenSchema.extend({
  token: z.string().describe('The join token (`cutj_…`): shown only in this answer.'),
  urls: z.array(z.string()).describe('The server URLs it tells agents to dial.'),
  fingerprint: z.string().nullable().describe("SHA-256 of what it pins (see `pin`); null without TLS."),
  pin: z.enum(['cert', 'ca']).nullable().describe("`cert`: the server's TLS certificate (renewing it needs new tokens); `ca`: the CA that signed it (`tlsCa`: a renewed certificate from that CA keeps working); null without TLS."),
});

/** A join's and a rotation's answer: the machine and its new credential, shown only here. */
export const machineWithCredentialSchema = z.object({ machine: machineSchema, credential: z.string().describe('The machine credential: shown only in this answer.') });

/** A hold on an instance: the fleet scheduler leaves it alone. */
export const holdViewSchema = z.object({ instance: z.string(), owner: z.string(), reason: z.string(), createdAt: isoTime, until: isoTime.nullable() });

/** A version's rollout, halted fleet-wide after its failure budget ran out. */
export const haltViewSchema = z.object({
  id: z.number().int(),
  app: z.string(),
  version: z.string(),
  reason: z.string(),
  problemId: z.number().int().nullable(),
  haltedAt: isoTime,
  haltedBy: z.string(),
  liftedBy: z.string().nullable(),
  liftedAt: isoTime.nullable(),
  liftReason: z.string().nullable(),
});

/**
 * The answer of a fleet policy change: the policy now (every field, under its current name) and,
 * only when the request used a deprecated key, `warnings`.
 */
export const fleetPolicyChangeSchema = z.looseObject({
  warnings: z
    .array(z.string())
    .optional()
    .describe('One sentence per deprecated key the request used (`maxParallelPerHost`): the change was made under the new name (`maxParallelPerMachine`). Absent when there is none.'),
});

/** What one scheduler pass did. */
export const tickReportSchema = z.looseObject({
  at: isoTime,
  leader: z.boolean(),
  enabled: z.boolean(),
  promoted: z.array(z.unknown()),
  halted: z.array(z.unknown()),
  started: z.array(z.unknown()),
  skipped: z.array(z.unknown()),
  agentUnreachable: z.string().optional(),
  counts: z.record(z.string(), z.number()),
});

/** The scheduler's decision for one instance; its times depend on the kind. */
const planDecision = z.looseObject({
  kind: z.string(),
  opensAt: isoTime.nullable().optional().describe('waiting-window: when the next window opens.'),
  retryAt: isoTime.optional().describe('retry-wait: when it retries.'),
  lastFailedAt: isoTime.optional().describe('retry-wait, gave-up: when it last failed.'),
  hold: holdViewSchema.optional().describe('held: the hold.'),
  halt: haltViewSchema.nullable().optional().describe('halted: the halt in force.'),
  limit: z.enum(['fleet', 'machine']).optional().describe('capacity: the parallel limit that is reached (`maxParallel`, or `maxParallelPerMachine` on one of its machines).'),
  machine: z.string().nullable().optional().describe('capacity: the full machine (`(local)`: the budget of instances without machines); null for the fleet-wide limit.'),
});

/** One entry of the fleet plan, and the answer of `why`. */
export const planEntrySchema = z.looseObject({
  instance: z.string(),
  app: z.string(),
  environment: z.string(),
  wave: z.number().int(),
  window: z.string(),
  zone: z.string(),
  currentVersion: z.string().nullable(),
  decision: planDecision,
  why: z.string().describe('The decision in one sentence.'),
  when: isoTime.nullable().describe('When it upgrades (now, or when its window opens); null when not scheduled.'),
  whenLocal: z.string().nullable().describe('The same time in the instance’s zone.'),
});
