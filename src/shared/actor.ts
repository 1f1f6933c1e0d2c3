import type { Role } from './types.ts';

/**
 * Who did it: the one shape every change carries into its audit entry. From the API it is the
 * token's name and role with the request id; for changes nobody asked for through the API
 * (scheduler, bake analysis, health watcher, recovery) a {@link systemActor}.
 */
export interface Actor {
  /** The token's name, or the built-in actor's (`scheduler`, `analysis`, `health`, `recovery`, `system`). */
  actor: string;
  /** The API request that asked for it; null for automatic changes. */
  requestId: string | null;
  /** Why, as the operator gave it (audited). */
  reason?: string;
  /** The token's role; built-in actors act as `deployer` (or `admin` for `system`). */
  role?: Role;
}

/** An actor for a change nobody asked for through the API. */
export function systemActor(name: string, role: Role = 'deployer'): Actor {
  return { actor: name, role, requestId: null };
}

/** `by` with the reason given for this change (none: `by` without one). */
export function withReason(by: Actor, reason: string | undefined): Actor {
  const { reason: _, ...rest } = by;
  return reason ? { ...rest, reason } : rest;
}
