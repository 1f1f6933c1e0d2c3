import type { Role, TokenRecord } from '../store/index.ts';

/** The roles in rank order; `publisher` stands apart (see {@link accessProblem}). */
export type RankedRole = Exclude<Role, 'publisher'>;

const RANK: Record<RankedRole, number> = { viewer: 0, deployer: 1, admin: 2 };

/**
 * Whether a token of role `have` may do what needs `need`. A publisher ranks as a viewer here: what
 * else it may do (publish, promote to its channels) each operation grants it by name.
 */
export function roleAllows(have: Role, need: RankedRole): boolean {
  return RANK[have === 'publisher' ? 'viewer' : have] >= RANK[need];
}

/**
 * What a `publisher` token may call besides what a viewer may: `any` (upload, publish), or
 * `named-channel` (promote): only when the channel is one its token names.
 */
export type PublisherAccess = 'any' | 'named-channel';

/** An operation as access sees it: its lowest ranked role and whether a publisher may call it. */
export interface Operation {
  /** e.g. `POST /api/channels/{name}/promote (promote)`, for the message. */
  label: string;
  role: RankedRole;
  publisher?: PublisherAccess;
  /** The channel it acts on, for `named-channel`. */
  channel?: string | undefined;
}

/**
 * Whether `token` may call `op`: undefined when it may, else the refusal, naming what the token
 * is and what the operation needs. Pure; the API turns a refusal into 403 FORBIDDEN.
 */
export function accessProblem(token: Pick<TokenRecord, 'name' | 'role' | 'channels'>, op: Operation): { message: string; details: Record<string, unknown> } | undefined {
  if (roleAllows(token.role, op.role)) return undefined;
  const refused = { message: `token "${token.name}" has role ${token.role}; ${op.label} needs ${op.role} or above`, details: { role: token.role, needs: op.role } };
  if (token.role !== 'publisher' || op.publisher === undefined) return refused;
  if (op.publisher === 'any') return undefined;
  const channels = token.channels ?? [];
  if (op.channel !== undefined && channels.includes(op.channel)) return undefined;
  return {
    message: `token "${token.name}" is a publisher that may promote only to ${channels.length ? channels.map((c) => `"${c}"`).join(', ') : 'no channel'}, not to "${op.channel ?? ''}"; an admin can create a token naming it (\`cutover token create NAME --role publisher --channel ${op.channel ?? 'CHANNEL'}\`)`,
    details: { role: token.role, channels, channel: op.channel ?? null },
  };
}
