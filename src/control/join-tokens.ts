import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CutoverError, encodeJoinToken, parseDurationWithUnit } from '../shared/index.ts';
import type { Actor, Clock, ErrorCode, PinKind } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { JoinTokenRecord, Store } from '../store/index.ts';
import { hashToken } from './tokens.ts';

/** The longest a join token may live: it is a bearer secret for adding machines. */
const MAX_EXPIRY_MS = 30 * 86_400_000;

/** Why a join token cannot be used now; `ok` when it can. */
export type JoinTokenVerdict = { ok: true } | { ok: false; code: Extract<ErrorCode, 'JOIN_TOKEN_INVALID' | 'JOIN_TOKEN_EXPIRED' | 'JOIN_TOKEN_USED' | 'JOIN_TOKEN_REVOKED'>; message: string };

/**
 * Whether a stored join token may be used at `now`: unknown (no record) → invalid; then revoked,
 * expired (at `expiresAt` and after), used up, in that order, each with its own code and fix.
 */
export function checkJoinToken(record: JoinTokenRecord | undefined, now: number): JoinTokenVerdict {
  const fix = 'ask an admin for a new one (`cutover join-token create`)';
  if (!record) return { ok: false, code: 'JOIN_TOKEN_INVALID', message: `the server knows no such join token; ${fix}` };
  if (record.revokedAt !== null) return { ok: false, code: 'JOIN_TOKEN_REVOKED', message: `join token ${record.id} was revoked by ${record.revokedBy ?? 'an admin'}; ${fix}` };
  if (now >= record.expiresAt) return { ok: false, code: 'JOIN_TOKEN_EXPIRED', message: `join token ${record.id} expired at ${new Date(record.expiresAt).toISOString()}; ${fix}` };
  if (record.maxUses !== null && record.uses >= record.maxUses) {
    return { ok: false, code: 'JOIN_TOKEN_USED', message: `join token ${record.id} was already used ${record.uses} time${record.uses === 1 ? '' : 's'}, all it allows; ${fix}` };
  }
  return { ok: true };
}

/** A verdict's refusal as the error the API answers. */
export function joinTokenError(verdict: Exclude<JoinTokenVerdict, { ok: true }>): CutoverError {
  return new CutoverError(verdict.code, verdict.message);
}

export const createJoinTokenSchema = z
  .object({
    expires: z
      .string()
      .describe('How long the token can be used, e.g. `1h` or `30m` (at most 30 days).')
      .refine((v) => {
        const ms = parseDurationWithUnit(v);
        return ms !== undefined && ms > 0 && ms <= MAX_EXPIRY_MS;
      }, 'must be a duration with a unit, more than 0 and at most 30d, e.g. 1h'),
    uses: z.number().int().min(1).max(10_000).optional().describe('How many machines may join with it; default: any number until it expires.'),
    urls: z
      .array(z.url({ protocol: /^https?$/ }))
      .min(1)
      .max(8)
      .optional()
      .describe("The server URLs the token tells agents to dial, in order; default: this server's own URL."),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type CreateJoinTokenInput = z.output<typeof createJoinTokenSchema>;

/** A join token as listed: never its hash, with what `checkJoinToken` says of it now. */
export type JoinTokenInfo = Omit<JoinTokenRecord, 'hash'> & { state: 'usable' | 'revoked' | 'expired' | 'used' };

const STATE = { JOIN_TOKEN_REVOKED: 'revoked', JOIN_TOKEN_EXPIRED: 'expired', JOIN_TOKEN_USED: 'used', JOIN_TOKEN_INVALID: 'revoked' } as const;

function info(record: JoinTokenRecord, now: number): JoinTokenInfo {
  const { hash: _hash, ...rest } = record;
  const verdict = checkJoinToken(record, now);
  return { ...rest, state: verdict.ok ? 'usable' : STATE[verdict.code] };
}

/** What the join token services need: the store, the clock, and what the token embeds about this server. */
export interface JoinTokenDeps {
  store: Store;
  clock: Clock;
  /** SHA-256 of the API's TLS certificate; undefined when it serves plain HTTP. */
  tlsFingerprint?: string;
  /** SHA-256 of the CA that signed it (`tlsCa`): tokens then pin the CA, so a renewed certificate keeps working. */
  tlsCaFingerprint?: string;
  /** This server's own URL(s), the default of a token's `urls`. */
  serverUrls: string[];
}

/**
 * Creates a join token and returns it: the only time it is ever visible. The store keeps the
 * SHA-256 of its secret; the audit entry names its id, expiry, uses and URLs, never the secret.
 */
export async function createJoinToken(
  deps: JoinTokenDeps,
  body: CreateJoinTokenInput,
  who: Actor,
): Promise<JoinTokenInfo & { token: string; urls: string[]; fingerprint: string | null; pin: PinKind | null }> {
  const urls = body.urls ?? deps.serverUrls;
  const secret = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  const record: JoinTokenRecord = {
    id: `jt_${randomBytes(6).toString('hex')}`,
    hash: hashToken(secret),
    createdAt: now,
    createdBy: who.actor,
    expiresAt: now + parseDurationWithUnit(body.expires)!,
    maxUses: body.uses ?? null,
    uses: 0,
    revokedAt: null,
    revokedBy: null,
  };
  // The CA when the server knows it: its pin outlives every certificate it signs.
  const pin: PinKind = deps.tlsCaFingerprint ? 'ca' : 'cert';
  const fingerprint = deps.tlsCaFingerprint ?? deps.tlsFingerprint ?? null;
  await deps.store.insertJoinToken(
    record,
    auditEntry(who, 'join-token.create', `join-token:${record.id}`, { at: now, after: { id: record.id, expiresAt: record.expiresAt, maxUses: record.maxUses, urls, fingerprint, pin: fingerprint ? pin : null } }),
  );
  return { ...info(record, now), urls, fingerprint, pin: fingerprint ? pin : null, token: encodeJoinToken({ secret, fingerprint, pin, urls }) };
}

export async function listJoinTokens(deps: { store: Store; clock: Clock }): Promise<JoinTokenInfo[]> {
  const now = deps.clock.now();
  return (await deps.store.listJoinTokens()).map((t) => info(t, now));
}

/** Revokes a join token at once; one already revoked is answered as it is (nothing changes). */
export async function revokeJoinToken(deps: { store: Store; clock: Clock }, id: string, who: Actor): Promise<JoinTokenInfo> {
  const now = deps.clock.now();
  const revoked = await deps.store.revokeJoinToken(id, who.actor, now, auditEntry(who, 'join-token.revoke', `join-token:${id}`, { at: now, before: { revokedAt: null }, after: { revokedAt: now } }));
  if (revoked) return info(revoked, now);
  const existing = (await deps.store.listJoinTokens()).find((t) => t.id === id);
  if (!existing) throw new CutoverError('JOIN_TOKEN_NOT_FOUND', `no join token with id "${id}"; \`cutover join-token list\` shows them`, { details: { id } });
  return info(existing, now);
}
