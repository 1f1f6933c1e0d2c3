import { CutoverError } from '../shared/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { DeploymentRecord, LockRecord, StepRecord, Store } from '../store/index.ts';
import { failDeployment } from './fail-deployment.ts';
import type { FailDeps } from './fail-deployment.ts';
import { LEASE_LOST } from './lease-keeper.ts';
import type { createLeaseKeeper } from './lease-keeper.ts';
import { runnerFor } from './step-runners.ts';
import type { RunnerDeps } from './step-runners.ts';
import { abortable } from './steps.ts';
import { behindText, leftMachinesBehind } from './deployment-machines.ts';

export interface PipelineDeps extends RunnerDeps, FailDeps {
  store: Store;
  leases: Pick<ReturnType<typeof createLeaseKeeper>, 'heartbeat'>;
}

/**
 * Runs the steps of `d` not done yet, in order, each through the journal (lease renewed, step
 * persisted as running, then acted on, then persisted as done), under `lock` kept alive by a
 * heartbeat. A resumed deployment (recovery) starts at its first step not done. An abort is
 * looked for before each step while `abortable` (up to the flip, and before `verify`); the
 * health wait and the tests watch for it meanwhile. Any failure goes to `failDeployment`.
 */
export async function runDeployment(deps: PipelineDeps, d: DeploymentRecord, spec: ReleaseSpec, lock: LockRecord): Promise<DeploymentRecord> {
  const { store, journal } = deps;
  let current: StepRecord | undefined;
  // The lease is given up before the final status is recorded: whoever sees the deployment
  // finished (polling its status) can start the next one at once, without INSTANCE_LOCKED.
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await store.releaseLock(d.instance, lock.owner).catch(() => undefined);
  };
  const lost: { error?: CutoverError } = {};
  const stopHeartbeat = deps.leases.heartbeat(d.id, lock, lost);
  try {
    for (const step of d.steps) {
      if (step.status === 'done') continue;
      current = step;
      if (abortable(d)) await deps.hold.checkAbort(d);
      await journal.begin(d, step); // persisted before it is acted on
      const detail = await runnerFor(step)(deps, d, spec, step);
      if (lost.error) throw lost.error;
      await journal.end(d, step, detail);
    }
    stopHeartbeat();
    await release();
    // Machines left behind converge to the desired state when they are back; the record says which.
    d.status = leftMachinesBehind(d) ? 'partial' : 'succeeded';
    d.finishedAt = deps.clock.now();
    await journal.save(d);
    await journal.audit(d, `${d.kind}.${d.status}`, { to: d.toVersion, color: d.toColor, ...(d.machines ? { machines: d.machines } : {}) });
    const behind = d.machines && d.status === 'partial' ? `; not confirmed on ${behindText(d.machines)}: they converge when back` : '';
    deps.log?.info({ deployment: d.id, instance: d.instance, to: d.toVersion }, `${d.kind} ${d.status}${behind}`);
  } catch (error) {
    stopHeartbeat();
    // Undo only under its own lease: one lost meanwhile, or that the store cannot confirm (cut off
    // from it), may belong to the replica resuming this deployment, which owns the slots now.
    if (!lost.error && !(await stillHeld(deps.store, lock))) lost.error = new CutoverError('DEPLOYMENT_FAILED', `${LEASE_LOST}: ${(error as Error)?.message ?? error}`, { details: { leaseLost: true } });
    if (lost.error) await leaseLost(deps, d, current, lost.error);
    else await failDeployment(deps, d, current, error, release);
  } finally {
    stopHeartbeat();
    await release();
  }
  return d;
}

/** Whether `lock` is still this deployment's in the store (false when the store cannot say). */
async function stillHeld(store: Store, lock: LockRecord): Promise<boolean> {
  const held = await store.getLock(lock.instance).catch(() => undefined);
  return held?.owner === lock.owner && held.deploymentId === lock.deploymentId && held.holder?.serverId === lock.holder?.serverId;
}

/**
 * Another deployment took this one's lease (it had expired) and settled its record in the same
 * transaction: the runtime now belongs to the new one, so nothing is stopped or flipped here.
 */
async function leaseLost(deps: PipelineDeps, d: DeploymentRecord, step: StepRecord | undefined, error: CutoverError): Promise<void> {
  deps.log?.warn({ deployment: d.id, instance: d.instance }, `${error.message}; leaving the slots to the deployment that holds the lease`);
  const stored = await deps.store.getDeployment(d.id).catch(() => undefined);
  if (stored && stored.status !== 'running') {
    Object.assign(d, stored);
    return;
  }
  const settled = deps.journal.settleFailed(d, step, error);
  await deps.journal.save(settled.deployment).catch(() => undefined);
  await deps.store.appendAudit(settled.audit).catch(() => undefined);
}
