import type { Role } from '../store/index.ts';

/** Who asks for a change: the token's name and role, and the request id carried into the audit log. */
export interface Who {
  actor: string;
  role: Role;
  requestId: string | null;
}

/** The built-in actors for changes nobody asked for through the API. */
export const SYSTEM: Who = { actor: 'system', role: 'admin', requestId: null };
