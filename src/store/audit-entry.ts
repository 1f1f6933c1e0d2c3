import type { Actor } from '../shared/index.ts';
import type { NewAuditEntry } from './types.ts';

/** What an audit entry records besides who, what and on which subject. */
export type AuditFields = Omit<NewAuditEntry, 'actor' | 'action' | 'subject' | 'requestId'>;

/**
 * The one way an audit entry is built: the actor and request id always come from `by`, so an
 * entry cannot name one caller and carry another's request. `fields.reason`, when given, is the
 * reason of this change; otherwise `by.reason`.
 */
export function auditEntry(by: Actor, action: string, subject: string, fields: AuditFields): NewAuditEntry {
  return { actor: by.actor, action, subject, requestId: by.requestId ?? null, reason: by.reason ?? null, ...fields };
}
