import { z } from 'zod';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { ProblemRecord, ProblemStatus, Store } from '../store/index.ts';
import { resolveApp } from './resolve-app.ts';
import type { Actor } from '../shared/index.ts';
import { auditEntry, mustGetProblem, mustGetRelease } from '../store/index.ts';

type Deps = { store: Store; clock: Clock };

export const reportProblemSchema = z
  .object({
    version: z.string().min(1, 'is required'),
    app: z.string().min(1).optional().describe('Needed only when several apps exist.'),
    title: z.string().trim().min(1, 'is required: one line saying what is wrong').max(200, 'must be at most 200 characters'),
    details: z.string().max(10_000).optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type ReportProblemInput = z.output<typeof reportProblemSchema>;

export const resolveProblemSchema = z.object({ reason: z.string().max(500).optional() }).strict();
/** The validated body (the route parses it once, at the API edge). */
export type ResolveProblemInput = z.output<typeof resolveProblemSchema>;

/**
 * Files a problem against a release. An open problem blocks promotion to channels whose policy
 * says so (`stable` by default). Automatic rollbacks and the scheduler file through here too,
 * with their own `source`.
 */
export async function reportProblem(deps: Deps, input: ReportProblemInput, who: Actor, source = 'user'): Promise<ProblemRecord> {
  const { version, app: appArg, title, details } = input;
  const app = await resolveApp(deps.store, appArg, version);
  await mustGetRelease(deps.store, app, version);
  const at = deps.clock.now();
  const problem = await deps.store.insertProblem({ app, version, title, details: details ?? null, source, reportedBy: who.actor, reportedAt: at });
  await deps.store.appendAudit(auditEntry(who, 'problem.report', `problem:${problem.id}`, {
    at,
    app,
    version,
    after: { status: 'open', title },
    details: { source },
  }));
  return problem;
}

export async function resolveProblem(deps: Deps, id: number, input: ResolveProblemInput, who: Actor): Promise<ProblemRecord> {
  const { reason } = input;
  const before = await mustGetProblem(deps.store, id);
  const at = deps.clock.now();
  const resolved = await deps.store.resolveProblem(id, who.actor, at, reason ?? null);
  if (!resolved) {
    throw new CutoverError('PROBLEM_RESOLVED', `problem #${id} was already resolved by ${before.resolvedBy ?? 'someone'}`, { details: { id } });
  }
  await deps.store.appendAudit(auditEntry(who, 'problem.resolve', `problem:${id}`, {
    at,
    app: resolved.app,
    version: resolved.version,
    reason: reason ?? null,
    before: { status: 'open' },
    after: { status: 'resolved' },
  }));
  return resolved;
}

export const listProblemsQuery = z
  .object({
    app: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    status: z.enum(['open', 'resolved']).optional().describe('Default: every problem.'),
  })
  .strict();

export async function listProblems(deps: Deps, filter: { app?: string | undefined; version?: string | undefined; status?: ProblemStatus | undefined }): Promise<ProblemRecord[]> {
  return deps.store.listProblems({
    ...(filter.app ? { app: filter.app } : {}),
    ...(filter.version ? { version: filter.version } : {}),
    ...(filter.status ? { status: filter.status } : {}),
  });
}
