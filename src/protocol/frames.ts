// The frames of an agent session (ADR 0019): the stream an agent opens to the server carries, both
// ways, a 4-byte big-endian length and one UTF-8 JSON object. The calls and answers inside are the
// messages of `messages.ts`, unchanged; this file only says how they are framed and checked.
import { z } from 'zod';
import { MESSAGE_NAMES } from './messages.ts';
import { instanceStatsSchema } from './schemas.ts';
import type { MessageName } from './messages.ts';

/** The largest frame either side accepts (the largest request, a maintenance page, is bounded to 256 KiB). */
export const MAX_FRAME_BYTES = 1024 * 1024;

const id = z.number().int().nonnegative();
const errorBody = z.object({
  code: z.string().min(1),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
const labels = z.record(z.string(), z.string());

export const frameSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('hello'),
    name: z.string().min(1),
    protocol: z.number().int(),
    agent: z.string().min(1),
    labels: labels.optional(),
  }),
  z.object({
    t: z.literal('welcome'),
    protocol: z.number().int(),
    heartbeatMs: z.number().int().positive(),
    session: z.string().min(1),
    /** How often the agent pushes its routers' counters (the bake interval); absent: never. */
    countersMs: z.number().int().positive().optional(),
  }),
  /** The agent's per-colour counters of every instance it routes, pushed every `countersMs`. */
  z.object({ t: z.literal('counters'), instances: z.array(instanceStatsSchema) }),
  z.object({ t: z.literal('refused'), code: z.string().min(1), message: z.string() }),
  z.object({
    t: z.literal('call'),
    id,
    m: z.enum(MESSAGE_NAMES as [MessageName, ...MessageName[]]),
    key: z.string().optional(),
    timeoutMs: z.number().int().positive(),
    request: z.unknown(),
  }),
  z.object({
    t: z.literal('answer'),
    id,
    answer: z.unknown().optional(),
    absent: z.literal(true).optional(),
    stream: z.literal(true).optional(),
    error: errorBody.optional(),
  }),
  z.object({ t: z.literal('cancel'), id }),
  z.object({ t: z.literal('ping'), at: z.number() }),
  z.object({ t: z.literal('pong'), at: z.number() }),
]);

export type Frame = z.infer<typeof frameSchema>;
export type CallFrame = Extract<Frame, { t: 'call' }>;
export type AnswerFrame = Extract<Frame, { t: 'answer' }>;

/** A frame on the wire: its length, then its JSON. Refuses a frame too large for the peer to read. */
export function encodeFrame(frame: Frame): Buffer {
  const json = Buffer.from(JSON.stringify(frame), 'utf8');
  if (json.length > MAX_FRAME_BYTES)
    throw new RangeError(
      `a ${frame.t} frame of ${json.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
    );
  const out = Buffer.allocUnsafe(4 + json.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  return out;
}

/**
 * Cuts a byte stream into frames, however it arrives in chunks. A length beyond
 * {@link MAX_FRAME_BYTES}, a body that is not JSON or a frame of no known shape throws: the peer
 * is not speaking this protocol, and the session must end.
 */
export class FrameDecoder {
  #pending: Buffer[] = [];
  #size = 0;

  push(chunk: Buffer): Frame[] {
    this.#pending.push(chunk);
    this.#size += chunk.length;
    const frames: Frame[] = [];
    while (this.#size >= 4) {
      const head = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      const length = head.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES)
        throw new RangeError(`the peer sent a frame of ${length} bytes (the limit is ${MAX_FRAME_BYTES})`);
      if (head.length < 4 + length) {
        this.#pending = [head];
        break;
      }
      frames.push(parseFrame(head.subarray(4, 4 + length)));
      const rest = head.subarray(4 + length);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#size = rest.length;
    }
    return frames;
  }
}

function parseFrame(bytes: Buffer): Frame {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SyntaxError('the peer sent a frame that is not JSON');
  }
  const parsed = frameSchema.safeParse(value);
  if (!parsed.success)
    throw new SyntaxError(
      `the peer sent a frame of no known shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  return parsed.data;
}
