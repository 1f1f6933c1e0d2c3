import type { CutoverError } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import type { DeploymentRecord, StepRecord, Store } from '../store/index.ts';
import { deploymentEntry, settleFailed } from './deployment-audit.ts';
import type { InstancePosition } from './deployment-audit.ts';
import type { createLeaseKeeper } from './lease-keeper.ts';

export interface JournalDeps {
  store: Store;
  clock: Clock;
  leases: Pick<ReturnType<typeof createLeaseKeeper>, 'renew'>;
  /** This replica, as a resumed step's detail names it (`resumedBy`). */
  by?: string;
}

/**
 * The one writer of a running deployment's record: every step goes through it (lease renewed,
 * the step persisted as `running` before it acts, `done` with what it saw after), and so do the
 * audit entries about the deployment. A runner never saves the record itself, so another replica
 * resuming the deployment reads what the journal wrote and carries on from there.
 */
export function createJournal(deps: JournalDeps) {
  const { store, clock } = deps;

  async function save(d: DeploymentRecord): Promise<void> {
    d.updatedAt = clock.now();
    await store.updateDeployment(d);
  }

  const entry = (d: DeploymentRecord, action: string, details: Record<string, unknown>, by?: Actor, after?: InstancePosition) =>
    deploymentEntry(clock.now(), d, action, details, by, after);

  return {
    save,
    entry,
    /** Appends an audit entry by the deployment's own actor. */
    audit: (d: DeploymentRecord, action: string, details: Record<string, unknown>, after?: InstancePosition) =>
      store.appendAudit(entry(d, action, details, undefined, after)),
    /** Renews the deployment's lease now (a lost lease stops it before it acts again). */
    renew: (d: DeploymentRecord) => deps.leases.renew(d.id),

    /**
     * Renews the lease and persists `step` as running: persisted before it is acted on. A step that
     * is `running` already was begun by a replica that died: it keeps its first `startedAt` (a
     * health wait and a hold count their time from there) and its detail records the resume.
     */
    async begin(d: DeploymentRecord, step: StepRecord): Promise<void> {
      await deps.leases.renew(d.id);
      const now = clock.now();
      if (step.status === 'running' && step.startedAt !== undefined) {
        step.detail = { ...step.detail, resumedAt: now, ...(deps.by ? { resumedBy: deps.by } : {}) };
      } else step.startedAt = now;
      step.status = 'running';
      await save(d);
    },

    /** Persists `step` as done with what it saw (merged into what it recorded while running). */
    async end(d: DeploymentRecord, step: StepRecord, detail: Record<string, unknown> | undefined): Promise<void> {
      step.status = 'done';
      step.finishedAt = clock.now();
      if (detail) step.detail = { ...step.detail, ...detail };
      await save(d);
    },

    /** Records what a running step saw so far (a hold's progress, a test's result before it fails). */
    async note(d: DeploymentRecord, step: StepRecord, detail: Record<string, unknown>): Promise<void> {
      step.detail = { ...step.detail, ...detail };
      await save(d);
    },

    /** Marks `d` failed (or aborted) at `step`, and its audit entry; the caller stores both. */
    settleFailed: (d: DeploymentRecord, step: StepRecord | undefined, err: CutoverError, extra?: Record<string, unknown>) =>
      settleFailed(clock.now(), d, step, err, extra),
  };
}

export type Journal = ReturnType<typeof createJournal>;
