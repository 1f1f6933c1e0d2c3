import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../shared/index.ts';
import type { Role, Store, TokenRecord } from '../store/index.ts';

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
  const record: TokenRecord = { name: 'admin', hash: hashToken(token), role: 'admin', createdAt: clock.now() };
  if (!(await store.insertToken(record))) return undefined;
  await store.appendAudit({ at: record.createdAt, actor: 'system', action: 'token.create', subject: 'admin', details: { role: 'admin' } });
  return token;
}

const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

/** Whether a token of role `have` may do what needs `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}
