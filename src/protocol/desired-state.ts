// The desired state of one machine (issue 17): what the server's records say each of its instances
// should serve. The server numbers the document and sends it (`machine.desired`); the agent keeps
// the highest number it accepted and refuses a lower one, or another machine's, saying why.
import { z } from 'zod';
import { colorSchema, digestSchema } from './schemas.ts';

/** A release in a colour: the live one, or the warm one kept for an instant rollback. */
export const desiredReleaseSchema = z.object({
  version: z.string().min(1),
  digest: digestSchema,
  color: colorSchema,
});

export const desiredInstanceSchema = z.object({
  name: z.string().min(1),
  hosts: z.array(z.string().min(1)),
  live: desiredReleaseSchema.nullable(),
  warm: desiredReleaseSchema.nullable(),
  maintenance: z.boolean(),
});

/** A certificate the machine should serve, named by fingerprint: the pair itself travels in `tls.put` (ADR 0029). */
export const desiredCertificateSchema = z.object({
  host: z.string().min(1),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  isDefault: z.boolean(),
});

/** One machine's desired state; instances sorted by name, so equal states have equal canonical JSON. */
export const desiredStateSchema = z.object({
  machine: z.string().min(1),
  instances: z.array(desiredInstanceSchema),
  /**
   * The machine is draining (`machine drain`): it keeps what it runs, and its router tells outside
   * load balancers it is not ready (`/.well-known/cutover/ready` answers 503 for every instance).
   * A new optional field (ADR 0019): absent (a server of the version before) means `false`, so
   * readers test `draining === true`; `desiredStateOf` always writes it.
   */
  draining: z.boolean().optional(),
  /**
   * The edge certificates its router should serve (issue 21), by host, without keys: a set or
   * removed certificate changes the document, so it is pushed at once. Optional (ADR 0019): absent
   * when there are none, so the documents of an install without TLS keep their digest.
   */
  certificates: z.array(desiredCertificateSchema).optional(),
});

export type DesiredRelease = z.infer<typeof desiredReleaseSchema>;
export type DesiredInstance = z.infer<typeof desiredInstanceSchema>;
export type DesiredState = z.infer<typeof desiredStateSchema>;
export type DesiredCertificate = z.infer<typeof desiredCertificateSchema>;

/** The agent's answer to a numbered document: accepted, or refused with the reason. */
export const desiredAnswerSchema = z.union([
  z.strictObject({ accepted: z.literal(true) }),
  z.strictObject({ accepted: z.literal(false), reason: z.string().min(1) }),
]);
export type DesiredAnswer = z.infer<typeof desiredAnswerSchema>;

/**
 * The agent's rule for a document numbered `number` (pure; the agent and the fake runtime share it):
 * - a number lower than the one it holds is stale: `stale: holds N` (a repeat of the number it
 *   holds is accepted again: the call converges);
 * - a document for another machine, when the agent knows its own name, is refused naming both.
 */
export function judgeDesired(held: number | undefined, self: string | undefined, number: number, document: DesiredState): DesiredAnswer {
  if (self !== undefined && document.machine !== self) {
    return { accepted: false, reason: `this agent is machine "${self}", the document is for "${document.machine}"` };
  }
  if (held !== undefined && number < held) return { accepted: false, reason: `stale: holds ${held}` };
  return { accepted: true };
}
