import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { DeploymentRecord, LeaseHolder, LockRecord, StepRecord, Store } from '../store/index.ts';
import { recoveryVerdict, servesDeployment, slotOf } from './lease-recovery.ts';
import type { Runtime } from './runtime.ts';
import { flipDone, runningStep, stepNamed, verifyPending } from './steps.ts';

export interface RecoveryDeps {
  store: Store;
  runtime: Pick<Runtime, 'describe'>;
  clock: Clock;
  holder: LeaseHolder;
  lockTtlMs: number;
  /** The lease a deployment's owner takes (the lease keeper's, so recovery's reads like the deployer's). */
  lockFor: (id: string, instance: string, actor: string) => LockRecord;
  /** Whether this process runs the deployment (then it is never recovered). */
  runsHere: (id: string) => boolean;
  /** Runs the remaining steps of a deployment that flipped, under `lock`. */
  finish: (d: DeploymentRecord, spec: ReleaseSpec, lock: LockRecord) => Promise<DeploymentRecord>;
  /** Settles a deployment as failed, undoing what `undoAfterFailure` says; touches no slot unless `ownSlot`. */
  fail: (d: DeploymentRecord, step: StepRecord | undefined, error: CutoverError, release: () => Promise<void>, ownSlot: boolean) => Promise<void>;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * Settles `running` deployments whose server died (see `recoveryVerdict`): finishes one whose slot
 * users already see (the agent's active colour runs its version, started by it), and fails any other,
 * stopping its new slot only if that slot is still its own. It takes the deployment's lease first
 * (from the dead incarnation, or once expired), so two replicas never settle the same deployment.
 */
export function createRecovery(deps: RecoveryDeps) {
  const { store, runtime, clock } = deps;

  // A periodic pass may overlap the previous one (or a deploy's): one settles, the other skips.
  const settling = new Set<string>();

  async function settle(d: DeploymentRecord): Promise<boolean> {
    if (deps.runsHere(d.id) || settling.has(d.id)) return false;
    settling.add(d.id);
    try {
      return await settleOnce(d);
    } finally {
      settling.delete(d.id);
    }
  }

  async function settleOnce(d: DeploymentRecord): Promise<boolean> {
    const now = clock.now();
    const verdict = recoveryVerdict(d, await store.getLock(d.instance), deps.holder, now, deps.lockTtlMs);
    if (!verdict.recover) return false;
    const lock = deps.lockFor(d.id, d.instance, 'recovery');
    const taken = await store.acquireLock(lock, now, verdict.takeFrom ? { takeFrom: verdict.takeFrom } : {});
    if (!taken.ok) return false; // another replica is settling it, or a new deployment took the instance
    const release = async () => {
      await store.releaseLock(d.instance, lock.owner).catch(() => undefined);
    };
    let handedOver = false;
    try {
      const current = await store.getDeployment(d.id);
      if (current?.status !== 'running') return false;
      // The agent being unreachable decides nothing: try again at the next tick.
      const seen = await runtime.describe(d.instance);
      const instance = await store.getInstance(d.instance);
      const startedBy = current.strategy === 'start-and-flip' ? current.id : (instance?.slots[current.toColor]?.deploymentId ?? undefined);
      const published = instance && (await store.getRelease(instance.app, current.toVersion));
      deps.log?.info({ deployment: d.id, instance: d.instance, why: verdict.why }, 'settling a deployment its server left running');
      const serves = servesDeployment(current, seen, startedBy);
      if (serves && published) {
        // Users already see the new release: the flip happened, whatever the record says.
        const flip = stepNamed(current, 'flip');
        if (flip) flip.status = 'done';
        handedOver = true;
        if (!verifyPending(current)) {
          await deps.finish(current, releaseSpecOf(published), lock);
          return true;
        }
        // Its verify test died with its server: the release is not proven, so users go back to the warm slot.
        const message = `the server running it stopped (${verdict.why}) before its verify test passed; users are back on ${current.fromVersion ?? 'nothing'}`;
        const at = runningStep(current) ?? stepNamed(current, 'verify');
        await deps.fail(current, at, new CutoverError('DEPLOYMENT_FAILED', message, { details: { recovery: verdict.why } }), release, true);
        return true;
      }
      const flipRecorded = flipDone(current);
      const ownSlot = slotOf(current, seen, startedBy) !== undefined;
      const message = flipRecorded
        ? `the server running it stopped (${verdict.why}) after the flip, and ${current.toVersion} no longer serves; the agent serves ${seen?.active ?? 'nothing'}`
        : `the server running it stopped (${verdict.why}) before the flip; the previous slot kept serving`;
      handedOver = true;
      // Never the slot users are on, whatever the records say.
      await deps.fail(current, runningStep(current), new CutoverError('DEPLOYMENT_FAILED', message, { details: { recovery: verdict.why } }), release, ownSlot && !flipRecorded && !serves);
      return true;
    } finally {
      if (!handedOver) await release();
    }
  }

  return {
    settle,
    /** Settles every recoverable running deployment; returns how many it settled. */
    async settleAll(filter: { instance?: string } = {}): Promise<number> {
      let settled = 0;
      for (const d of await store.listDeployments({ status: 'running', ...filter })) {
        try {
          if (await settle(d)) settled++;
        } catch (error) {
          deps.log?.warn({ deployment: d.id, instance: d.instance, err: (error as Error).message }, 'could not settle the deployment yet');
        }
      }
      return settled;
    },
  };
}
