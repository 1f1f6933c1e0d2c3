import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import type { AuditEntry, AuditFilter, ChainCheck, Store } from '../store/index.ts';
import { createChainVerifier } from '../store/index.ts';
import { isoTimeField } from './iso-time.ts';

export const auditQuery = z
  .object({
    instance: z.string().min(1).optional().describe('Entries about this instance.'),
    release: z.string().min(1).optional().describe('Entries about this release: "1.2.0" or "shop@1.2.0".'),
    app: z.string().min(1).optional(),
    actor: z.string().min(1).optional().describe('Token name, or system / scheduler.'),
    action: z.string().min(1).optional().describe('e.g. channel.promote, instance.target, deploy.start.'),
    subject: z.string().min(1).optional(),
    since: isoTimeField('entries at or after').optional(),
    until: isoTimeField('entries before').optional(),
    cursor: z.string().min(1).max(500).optional().describe('Paging: the `next` of the previous page (opaque).'),
    before: z.coerce.number().int().min(1).optional().describe('The older name of `cursor`: only entries with a smaller id.'),
    limit: z.coerce.number().int().min(1).max(10_000).default(200),
  })
  .strict();

export type AuditQuery = z.output<typeof auditQuery>;

/** Audit entries matching every given filter, newest first. */
export async function queryAudit(store: Store, q: AuditQuery): Promise<AuditEntry[]> {
  const filter: AuditFilter = { limit: q.limit };
  if (q.release) {
    const at = q.release.lastIndexOf('@');
    if (at > 0) {
      filter.app = q.release.slice(0, at);
      filter.version = q.release.slice(at + 1);
    } else filter.version = q.release;
  }
  if (q.app) filter.app = q.app;
  for (const key of ['instance', 'actor', 'action', 'subject', 'since', 'until', 'before'] as const) {
    const v = q[key];
    if (v !== undefined) (filter as Record<string, unknown>)[key] = v;
  }
  return store.listAudit(filter);
}

const PAGE = 2000;

/** Walks the whole chain oldest first and checks every link and the head. */
export async function verifyAudit(store: Store): Promise<ChainCheck> {
  const verifier = createChainVerifier();
  let after = 0;
  for (;;) {
    const page = await store.readAuditChain(after, PAGE);
    if (!verifier.push(page) || page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return verifier.finish(await store.auditHead(), { bootstrapped: await isBootstrapped(store) });
}

/** The setting written with entry #1 of the audit log (the admin token's creation). */
export const BOOTSTRAPPED_SETTING = 'audit.bootstrapped';

/**
 * Whether the log must hold entries: the marker written with entry #1, or any token (a server
 * creates the admin token and entry #1 together). Someone who wipes the log must also find and
 * delete both, and then the next start bootstraps again, with a new entry #1 and admin token.
 */
async function isBootstrapped(store: Store): Promise<boolean> {
  return (await store.getSetting(BOOTSTRAPPED_SETTING)) !== undefined || (await store.countTokens()) > 0;
}

/** Throws AUDIT_CHAIN_BROKEN for a failed check (for callers that want an error, like the CLI). */
export function assertChainOk(check: ChainCheck): void {
  if (!check.ok) {
    throw new CutoverError('AUDIT_CHAIN_BROKEN', `the audit log was tampered with: ${check.problem!.message}`, { details: { ...check } });
  }
}
