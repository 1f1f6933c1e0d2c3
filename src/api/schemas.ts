// Response schemas: they document what the API returns in the OpenAPI document, and `wire.ts`
// infers the answer types from them (what the CLI reads). They are exact objects, and `wire.ts`
// checks at compile time that each service's answer fits its schema, so the two cannot drift.
import { z } from 'zod';
import type { ErrorCode } from '../shared/index.ts';

const ms = z.number().int().describe('Milliseconds since the epoch.');
const target = z.union([z.object({ version: z.string() }), z.object({ channel: z.string() }), z.null()]);
const color = z.enum(['blue', 'green']);
const role = z.enum(['viewer', 'deployer', 'admin', 'publisher']);

export const releaseSchema = z.object({
  app: z.string(),
  version: z.string(),
  digest: z.string().describe('Content hash of the spec.'),
  spec: z.record(z.string(), z.unknown()).describe('The release spec as published.'),
  createdAt: ms,
  createdBy: z.string(),
});

const slot = z.object({ version: z.string(), status: z.enum(['starting', 'live', 'warm', 'stopped', 'failed']), deploymentId: z.string(), warmUntil: ms.optional() }).nullable();

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
  currentVersion: z.string().nullable(),
  activeColor: color.nullable(),
  slots: z.object({ blue: slot, green: slot }),
  createdAt: ms,
  updatedAt: ms,
});

export const instanceViewSchema = instanceSchema.extend({ resolvedTarget: resolvedTargetSchema });

const step = z.object({
  name: z.string().describe('prepare, start, health, smoke, shift-<percent>, flip, verify, finalise (in plan order)'),
  status: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
  startedAt: ms.optional(),
  finishedAt: ms.optional(),
  detail: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('What the step saw: health checks, port, timings; a test step: command, passed, exitCode, durationMs, sha256, outputBytes, output (the last 64 KiB, secrets masked).'),
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
  status: z.enum(['running', 'succeeded', 'failed', 'aborted']),
  steps: z.array(step),
  error: z.object({ code: z.custom<ErrorCode>((v) => typeof v === 'string'), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }).optional(),
  skipTests: z.boolean().optional().describe("An admin deployed it without the release's tests."),
  rollback: z
    .object({ strategy: z.literal('flip-to-warm'), toVersion: z.string().nullable(), toColor: color, flippedAt: ms, tookMs: z.number() })
    .optional()
    .describe('A failure after the flip (verify, an abort during it) flipped users back to the warm slot: to what, and how long the flip took.'),
  actor: z.string(),
  app: z.string().optional(),
  reason: z.string().optional(),
  requestId: z.string().optional(),
  rollout: z.object({ steps: z.array(z.number()), pauseMs: z.number().nullable(), analysis: z.boolean() }).optional(),
  abort: z.object({ at: ms, actor: z.string(), reason: z.string().optional() }).optional(),
  createdAt: ms,
  updatedAt: ms,
  finishedAt: ms.optional(),
});

export const policySchema = z.object({
  soak: z.object({ channel: z.string(), days: z.number() }).nullable(),
  blockOnOpenProblems: z.boolean(),
  allowPrerelease: z.boolean(),
  autoPromote: z.boolean().optional(),
});
export const pointerSchema = z.object({ app: z.string(), channel: z.string(), version: z.string(), movedAt: ms, movedBy: z.string() });
export const moveSchema = z.object({
  id: z.number(),
  app: z.string(),
  channel: z.string(),
  fromVersion: z.string().nullable(),
  toVersion: z.string(),
  at: ms,
  actor: z.string(),
  reason: z.string().nullable(),
  forced: z.boolean(),
});

export const channelSchema = z.object({
  name: z.string(),
  description: z.string(),
  policy: policySchema,
  builtIn: z.boolean(),
  createdAt: ms,
  createdBy: z.string(),
  updatedAt: ms,
});
export const channelViewSchema = channelSchema.extend({ pointers: z.array(pointerSchema) });
export const channelDetailSchema = channelViewSchema.extend({ history: z.array(moveSchema) });

const failure = z.looseObject({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) });
export const promotionCheckSchema = z.looseObject({
  app: z.string(),
  version: z.string(),
  channel: z.string(),
  current: z.string().nullable(),
  verdict: z.looseObject({ allowed: z.boolean(), failures: z.array(failure), eligibleAt: ms.optional() }),
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
  reportedAt: ms,
  resolvedBy: z.string().nullable(),
  resolvedAt: ms.nullable(),
  resolution: z.string().nullable(),
});

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: ms,
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
  createdAt: ms,
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
  createdAt: ms,
  createdBy: z.string(),
  expiresAt: ms,
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  revokedAt: ms.nullable(),
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
  joinedAt: ms,
  lastHeartbeat: ms.nullable(),
  status: z.enum(['active', 'draining', 'removed']),
  credentialRotatedAt: ms,
  joinToken: z.string().describe('The id of the join token it joined with.'),
});

/** `POST /api/join-tokens`: the token, shown only in this answer, with what it embeds. */
export const createdJoinTokenSchema = joinTokenSchema.extend({
  token: z.string().describe('The join token (`cutj_…`): shown only in this answer.'),
  urls: z.array(z.string()).describe('The server URLs it tells agents to dial.'),
  fingerprint: z.string().nullable().describe("SHA-256 of the server's TLS certificate it pins; null without TLS."),
});

/** A join's and a rotation's answer: the machine and its new credential, shown only here. */
export const machineWithCredentialSchema = z.object({ machine: machineSchema, credential: z.string().describe('The machine credential: shown only in this answer.') });
