import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { Role, Store, TokenRecord } from '../store/index.ts';
import type { Actor } from '../shared/index.ts';
import { BOOTSTRAPPED_SETTING } from './audit.ts';
import { auditEntry } from '../store/index.ts';
import { CHANNEL_NAME } from './channels.ts';

/** sha256 of a token: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token; `cut_` makes it recognisable to secret scanners. */
export function newToken(): string {
  return `cut_${randomBytes(24).toString('base64url')}`;
}

/**
 * On the first start (no token yet), creates the `admin` token and returns it: the only time it is
 * ever visible. Later starts return undefined.
 */
export async function bootstrapAdminToken(store: Store, clock: Clock): Promise<string | undefined> {
  if ((await store.countTokens()) > 0) return undefined;
  const token = newToken();
  const record: TokenRecord = { name: 'admin', hash: hashToken(token), role: 'admin', createdAt: clock.now(), createdBy: 'system' };
  if (!(await store.insertToken(record))) return undefined;
  // Entry #1 and the marker that `audit verify` checks land in one transaction: from then on an empty log is a deleted one.
  await store.putSetting(BOOTSTRAPPED_SETTING, { at: record.createdAt }, {
    at: record.createdAt,
    actor: 'system',
    action: 'token.create',
    subject: 'token:admin',
    after: { name: 'admin', role: 'admin' },
  });
  return token;
}

export const createTokenSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9._-]{0,62}$/, 'must be a lowercase name like "ci" or "alice" (letters, digits, ".", "_", "-")'),
    role: z
      .enum(['viewer', 'deployer', 'admin', 'publisher'])
      .describe(
        'viewer reads; deployer publishes, deploys, rolls back, retargets, promotes within policy and reports problems; admin does everything; publisher (for CI) reads, publishes, and promotes within policy to its channels only.',
      ),
    channels: z
      .array(z.string().regex(CHANNEL_NAME, 'must be a channel name like "staging"'))
      .max(32, 'must name at most 32 channels')
      .optional()
      .describe('With role publisher: the channels it may promote to (each must exist). Refused with any other role.'),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type CreateTokenInput = z.output<typeof createTokenSchema>;

/** A token as answers show it (the API's `TokenInfo`): never its hash. */
type ShownToken = Omit<TokenRecord, 'hash'>;

const info = ({ hash: _hash, ...rest }: TokenRecord): ShownToken => rest;

/** Creates a named token and returns it: the only time it is ever visible. */
export async function createToken(deps: { store: Store; clock: Clock }, input: CreateTokenInput, who: Actor): Promise<ShownToken & { token: string }> {
  const { name, role, channels } = input;
  const named = await tokenChannels(deps.store, role, channels);
  const token = newToken();
  const record: TokenRecord = { name, hash: hashToken(token), role, ...(named ? { channels: named } : {}), createdAt: deps.clock.now(), createdBy: who.actor };
  if (!(await deps.store.insertToken(record))) {
    throw new CutoverError('TOKEN_EXISTS', `a token named "${name}" exists; revoke it first or pick another name`, { details: { name } });
  }
  await deps.store.appendAudit(auditEntry(who, 'token.create', `token:${name}`, {
    at: record.createdAt,
    after: { name, role, ...(named ? { channels: named } : {}) },
  }));
  return { ...info(record), token };
}

/**
 * A publisher's channels, checked: each must exist (a typo would leave CI unable to promote
 * without saying why), repeats dropped. Channels with another role are refused, not ignored.
 */
async function tokenChannels(store: Store, role: Role, channels: string[] | undefined): Promise<string[] | undefined> {
  if (role !== 'publisher') {
    if (channels?.length) {
      throw new CutoverError('VALIDATION_FAILED', `channels go with role publisher only; a ${role} token is not limited to channels: drop --channel, or use --role publisher`, {
        details: { role, channels },
      });
    }
    return undefined;
  }
  const unique = [...new Set(channels ?? [])];
  const known = new Set((await store.listChannels()).map((c) => c.name));
  const missing = unique.filter((c) => !known.has(c));
  if (missing.length) {
    throw new CutoverError('CHANNEL_NOT_FOUND', `no channel ${missing.map((c) => `"${c}"`).join(', ')}; create it first (\`cutover channel create\`) or name one of: ${[...known].join(', ')}`, {
      details: { channels: missing },
    });
  }
  return unique;
}

export async function listTokens(store: Store): Promise<ShownToken[]> {
  return (await store.listTokens()).map(info);
}

/** Revokes a token at once. The last admin token cannot be revoked: nobody could manage tokens after. */
export async function revokeToken(deps: { store: Store; clock: Clock }, name: string, who: Actor): Promise<ShownToken> {
  const tokens = await deps.store.listTokens();
  const token = tokens.find((t) => t.name === name);
  if (!token) {
    throw new CutoverError('TOKEN_NOT_FOUND', `no token named "${name}"; tokens: ${tokens.map((t) => t.name).join(', ')}`, { details: { name } });
  }
  if (token.role === 'admin' && tokens.filter((t) => t.role === 'admin').length === 1) {
    throw new CutoverError('LAST_ADMIN_TOKEN', `"${name}" is the last admin token; create another admin token before revoking it`);
  }
  if (!(await deps.store.deleteToken(name))) throw new CutoverError('TOKEN_NOT_FOUND', `token "${name}" was revoked meanwhile`);
  await deps.store.appendAudit(auditEntry(who, 'token.revoke', `token:${name}`, {
    at: deps.clock.now(),
    before: { name, role: token.role, ...(token.channels ? { channels: token.channels } : {}) },
    after: null,
  }));
  return info(token);
}
