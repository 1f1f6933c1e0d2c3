// The agent protocol: every call the control plane makes on an agent, as one typed message. The
// agent's routes and the server's client are both built from this table (ADR 0019); a transport
// (HTTP today, a connection the agent opens later) only decides how a message travels.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ErrorCode } from '../shared/index.ts';
import {
  artifactReportSchema,
  colorSchema,
  edgePairSchema,
  healthResultSchema,
  heldCertificateSchema,
  instanceReportSchema,
  instanceStatsSchema,
  localRollbackSchema,
  maintenanceSchema,
  okSchema,
  slotSpecSchema,
  testResultSchema,
  testRunSchema,
} from './schemas.ts';
import { desiredAnswerSchema, desiredStateSchema } from './desired-state.ts';

/**
 * How a repeat of the same call is recognised, so a transport can retry or replay it:
 * - `read`: changes nothing; repeat freely.
 * - `converge`: the request names the end state (these hosts, this colour active, this slot
 *   stopped); a repeat with the same key finds it reached and changes nothing more.
 * - `once`: a repeat acts again (a second `slot.start` restarts the slot); the key tells a replay
 *   of the same call from a new one, so a transport must answer a replay from what it remembers.
 */
export type Idempotency<Req> = { kind: 'read' } | { kind: 'converge' | 'once'; key: (request: Req) => string };

export interface MessageSpec<Req extends z.ZodType = z.ZodType, Ans extends z.ZodType = z.ZodType> {
  /** What the call does, for the docs and the ADR's table. */
  summary: string;
  request: Req;
  answer: Ans;
  idempotency: Idempotency<z.infer<Req>>;
  /** Bytes that travel beside the request (an artifact) or the answer (log lines). */
  stream?: 'request' | 'answer';
  /** The answer may be absent (the agent does not know the instance): a transport says so with this code. */
  absent?: ErrorCode;
  /** How long the caller waits for the answer; default {@link DEFAULT_CALL_TIMEOUT_MS}. */
  timeoutMs?: number | ((request: z.infer<Req>) => number);
  /** Answered without the agent token (a health probe). */
  open?: true;
  /**
   * The `once` calls this one makes stale (a slot stopped undoes its start): the message and the
   * start of their idempotency keys. A repeat of such a call after this one is a new call, not a
   * replay, so a transport that remembers answers forgets those.
   */
  undoes?: (request: z.infer<Req>) => UndoneCalls;
}

/** The `once` calls a message makes stale: their message name and the start of their idempotency keys. */
export interface UndoneCalls {
  message: string;
  keyPrefix: string;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** A stop drains the slot's requests first, then waits for the app: as long as a stop can take. */
const STOP_TIMEOUT_MS = 600_000;

const instance = z.object({ instance: z.string().min(1) });
const slot = instance.extend({ color: colorSchema });
const artifact = z.object({ digest: z.string().min(1) });
const at = (r: { instance: string }) => r.instance;
const slotKey = (r: { instance: string; color: string }) => `${r.instance}/${r.color}`;

/** Declares a message, keeping its request and answer types for the table's users. */
const message = <Req extends z.ZodType, Ans extends z.ZodType, const S extends 'request' | 'answer' | undefined = undefined>(
  spec: MessageSpec<Req, Ans> & { stream?: S },
) => spec as MessageSpec<Req, Ans> & { stream: S };

export const MESSAGES = {
  'agent.health': message({
    summary: 'Whether the agent answers, how its slots are isolated, and the protocol version it speaks.',
    request: z.object({}),
    answer: z.strictObject({ ok: z.literal(true), isolation: z.enum(['uid', 'none']), protocol: z.number().int().positive() }),
    idempotency: { kind: 'read' },
    open: true,
  }),
  'agent.state': message({
    summary: 'Every instance the agent serves, as `instance.describe` reports one, and the local rollbacks the server has not acknowledged.',
    request: z.object({}),
    answer: z.strictObject({
      isolation: z.enum(['uid', 'none']),
      protocol: z.number().int().positive(),
      instances: z.array(instanceReportSchema),
      // Optional: agents before `cutover local rollback` do not send it, and a server before it ignores it.
      localRollbacks: z.array(localRollbackSchema).optional(),
      // Optional (issue 21): the certificates its router serves; an agent before TLS does not send it.
      certificates: z.array(heldCertificateSchema).optional(),
    }),
    idempotency: { kind: 'read' },
  }),
  'agent.local.ack': message({
    summary: 'Forgets the local rollbacks the server has recorded (by id); unknown ids are ignored.',
    request: z.object({ ids: z.array(z.string().min(1)).max(1000) }),
    answer: okSchema,
    idempotency: { kind: 'converge', key: (r) => [...r.ids].sort().join(',') },
  }),
  'artifact.has': message({
    summary: 'Whether the agent holds an artifact (and marks it recently wanted, so a prune keeps it).',
    request: artifact,
    answer: z.boolean(),
    idempotency: { kind: 'read' },
  }),
  'artifact.put': message({
    summary: 'Stores an artifact streamed from the control plane, checking its digest as it arrives.',
    request: artifact,
    answer: okSchema,
    idempotency: { kind: 'converge', key: (r) => r.digest },
    stream: 'request',
    timeoutMs: 300_000,
  }),
  'artifact.list': message({
    summary: 'The artifacts the agent holds, and whether a slot uses each.',
    request: z.object({}),
    answer: z.strictObject({ artifacts: z.array(artifactReportSchema) }),
    idempotency: { kind: 'read' },
  }),
  'artifact.delete': message({
    summary: 'Deletes an artifact no slot uses (SLOT_BUSY otherwise).',
    request: artifact,
    answer: okSchema,
    idempotency: { kind: 'converge', key: (r) => r.digest },
  }),
  'instance.put': message({
    summary: "Creates or updates the route for an instance's host names.",
    request: instance.extend({ hosts: z.array(z.string().min(1)).min(1) }),
    answer: okSchema,
    idempotency: { kind: 'converge', key: (r) => `${r.instance} ${r.hosts.join(',')}` },
  }),
  'instance.remove': message({
    summary: 'Forgets an instance: its routes go (in-flight requests drain), then both slots stop.',
    request: instance,
    answer: okSchema,
    idempotency: { kind: 'converge', key: at },
    timeoutMs: STOP_TIMEOUT_MS,
    undoes: (r) => ({ message: 'slot.start', keyPrefix: `slot.start ${r.instance}/` }),
  }),
  'instance.describe': message({
    summary: 'What runs for one instance.',
    request: instance,
    answer: instanceReportSchema,
    idempotency: { kind: 'read' },
    absent: 'INSTANCE_NOT_FOUND',
  }),
  'instance.stats': message({
    summary: "The router's per-colour counters of one instance.",
    request: instance,
    answer: instanceStatsSchema,
    idempotency: { kind: 'read' },
    absent: 'INSTANCE_NOT_FOUND',
  }),
  'instance.flip': message({
    summary: 'The atomic switch to a colour; with `expectVersion`, only if that slot serves it healthy.',
    request: instance.extend({
      color: colorSchema,
      expectVersion: z.string().min(1).optional(),
      reason: z.enum(['forward', 'rollback']).optional(),
    }),
    answer: z.strictObject({ flippedAt: z.number() }),
    idempotency: { kind: 'converge', key: (r) => `${r.instance} ${r.color}` },
  }),
  'instance.shift': message({
    summary: 'A weighted step: a share of new clients goes to the idle, healthy colour.',
    request: instance.extend({ color: colorSchema, percent: z.number().int().min(1).max(99) }),
    answer: z.strictObject({ shiftedAt: z.number() }),
    idempotency: { kind: 'converge', key: (r) => `${r.instance} ${r.color} ${r.percent}` },
  }),
  'instance.preview': message({
    summary: 'Sets (or clears, null) the token that reaches the idle colour before the flip.',
    // The router's own rule (it travels in a header and a cookie); the upper bound keeps it sane.
    request: instance.extend({
      token: z.string().min(16).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').nullable(),
    }),
    answer: okSchema,
    // The token is a secret: the key names only whether one is set.
    idempotency: { kind: 'converge', key: (r) => `${r.instance} ${r.token === null ? 'off' : 'on'}` },
  }),
  'instance.maintenance.on': message({
    summary: "Answers every request of the instance with the maintenance page (503).",
    request: maintenanceSchema.extend({ instance: z.string().min(1) }),
    answer: okSchema,
    idempotency: { kind: 'converge', key: at },
  }),
  'instance.maintenance.off': message({
    summary: 'Serves the instance again after maintenance.',
    request: instance,
    answer: okSchema,
    idempotency: { kind: 'converge', key: at },
  }),
  'instance.logs': message({
    summary: "A slot's last output lines, and with `follow` the lines that come after (a byte stream).",
    request: instance.extend({
      color: colorSchema.optional(),
      tail: z.number().int().nonnegative().optional(),
      follow: z.boolean().optional(),
    }),
    answer: z.strictObject({ color: colorSchema }),
    idempotency: { kind: 'read' },
    stream: 'answer',
  }),
  'slot.start': message({
    summary: "Starts a release in a colour (stopping what held it) from an artifact the agent holds.",
    request: slotSpecSchema,
    answer: z.strictObject({ port: z.number().int(), pid: z.number().int().optional() }),
    idempotency: { kind: 'once', key: (r) => `${slotKey(r)} ${r.deploymentId}` },
  }),
  'slot.wait': message({
    summary: 'Resolves when the slot is healthy, or with why it is not by `timeoutMs`.',
    request: slot.extend({ timeoutMs: z.number().int().positive().max(3_600_000) }),
    answer: healthResultSchema,
    idempotency: { kind: 'read' },
    // The agent answers at timeoutMs at the latest; the margin covers a slow round trip.
    timeoutMs: (r) => r.timeoutMs + 10_000,
  }),
  'slot.stop': message({
    summary: "Drains the slot's in-flight requests, then stops its process; refused for the serving colour.",
    request: slot,
    answer: okSchema,
    idempotency: { kind: 'converge', key: slotKey },
    timeoutMs: STOP_TIMEOUT_MS,
    undoes: (r) => ({ message: 'slot.start', keyPrefix: `slot.start ${slotKey(r)} ` }),
  }),
  'instance.test': message({
    summary: "Runs a release's test to its end from the instance's copy of an artifact, as its slot user; a failing test is an answer.",
    request: testRunSchema,
    answer: testResultSchema,
    // A repeat runs the test again (a new one cancels the one running).
    idempotency: { kind: 'once', key: (r) => `${r.instance} ${r.deploymentId} ${r.kind}` },
    // The agent answers when the test has ended: up to its timeout, plus unpacking a test artifact.
    timeoutMs: (r) => r.timeoutMs + 120_000,
  }),
  'instance.test.cancel': message({
    summary: "Kills the instance's running test, if any (an aborted or recovered deployment).",
    request: instance,
    answer: okSchema,
    idempotency: { kind: 'converge', key: at },
  }),
  'machine.desired': message({
    summary: "The machine's numbered desired state: the agent keeps the highest number it accepted and refuses a lower one, or another machine's document, with the reason.",
    request: z.object({ number: z.number().int().positive(), document: desiredStateSchema }),
    answer: desiredAnswerSchema,
    // One number is one document (the server numbers a changed document anew), so a repeat converges.
    idempotency: { kind: 'converge', key: (r) => String(r.number) },
  }),
  'tls.put': message({
    summary: "Replaces the certificates the server gave the agent's router (its watched file pair stays); each pair is checked first, and a set that does not load changes nothing. Keys travel on the session only and are kept sealed with the machine's key.",
    request: z.object({ certificates: z.array(edgePairSchema).max(1000) }),
    answer: z.strictObject({ certificates: z.array(heldCertificateSchema) }),
    // The key names the set by a digest of its certificates (public), never by key material.
    idempotency: { kind: 'converge', key: (r) => createHash('sha256').update(JSON.stringify(r.certificates.map((c) => [c.hosts, c.cert, c.isDefault]))).digest('hex') },
  }),
} as const;

export type MessageName = keyof typeof MESSAGES;
export type RequestOf<N extends MessageName> = z.infer<(typeof MESSAGES)[N]['request']>;
export type AnswerOf<N extends MessageName> = z.infer<(typeof MESSAGES)[N]['answer']>;
/** Messages whose answer carries a byte stream beside it. */
export type StreamAnswerName = { [N in MessageName]: (typeof MESSAGES)[N] extends { stream: 'answer' } ? N : never }[MessageName];
export const MESSAGE_NAMES = Object.keys(MESSAGES) as MessageName[];

/** A message's definition with its request and answer types erased, for code that handles every message alike. */
export const specOf = (name: MessageName): MessageSpec => MESSAGES[name] as MessageSpec;

/** The caller's timeout for one call of `name`. */
export function timeoutOf<N extends MessageName>(name: N, request: RequestOf<N>): number {
  const t = specOf(name).timeoutMs;
  return typeof t === 'function' ? t(request) : (t ?? DEFAULT_CALL_TIMEOUT_MS);
}

/** The idempotency key of a call (`read` calls have none). */
export function idempotencyKey<N extends MessageName>(name: N, request: RequestOf<N>): string | undefined {
  const i = specOf(name).idempotency;
  return i.kind === 'read' ? undefined : `${name} ${i.key(request)}`;
}

/** The `once` calls `name` makes stale, if any (see {@link MessageSpec.undoes}). */
export function undoneBy<N extends MessageName>(name: N, request: RequestOf<N>): UndoneCalls | undefined {
  return (specOf(name).undoes as ((r: RequestOf<N>) => UndoneCalls) | undefined)?.(request);
}
