import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { DeploymentRecord, LeaseHolder, LockRecord, StepRecord, Store } from '../store/index.ts';
import { recoveryVerdict } from './lease-recovery.ts';
import { resumePlan } from './resume-plan.ts';
import type { Runtime } from './runtime.ts';
import { flipDone, runningStep } from './steps.ts';

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
  /**
   * Whether the replica of server `serverId` is alive now: false (dead: its deployments are taken
   * over at once), true, or undefined (cannot tell: its lease must expire). Absent: always undefined.
   */
  replicaAlive?: (serverId: string) => Promise<boolean | undefined>;
  /** Runs the steps of `d` not done yet under `lock`, in the background, after recording who resumed it where (`resumed`). */
  resume: (d: DeploymentRecord, spec: ReleaseSpec, lock: LockRecord, resumed: Record<string, unknown>) => Promise<void>;
  /** Settles a deployment as failed, undoing what `undoAfterFailure` says; touches no slot unless `ownSlot`. */
  fail: (d: DeploymentRecord, step: StepRecord | undefined, error: CutoverError, release: () => Promise<void>, ownSlot: boolean) => Promise<void>;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Who this server is, as a resume's audit entry and the step's detail name it. */
export const replicaName = (h: LeaseHolder): string => h.replica ?? h.serverId;

/**
 * Takes over `running` deployments whose server died (see `recoveryVerdict`) and resumes each from
 * its last persisted step (see `resumePlan`); one that cannot be resumed is settled as failed,
 * stopping its new slot only if that slot is still its own and nobody is on it. It takes the
 * deployment's lease first (from the dead server, or once expired), so two replicas never take the
 * same deployment.
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

  /** The liveness of a lease's holder, asked only when it matters (a live, unexpired lease of another server). */
  async function holderAlive(lock: LockRecord | undefined, now: number): Promise<boolean | undefined> {
    const h = lock?.holder;
    if (!deps.replicaAlive || !h || h.serverId === deps.holder.serverId || lock.expiresAt <= now) return undefined;
    return deps.replicaAlive(h.serverId).catch(() => undefined);
  }

  async function settleOnce(d: DeploymentRecord): Promise<boolean> {
    const held = await store.getLock(d.instance);
    const now = clock.now();
    const verdict = recoveryVerdict(d, held, deps.holder, now, deps.lockTtlMs, await holderAlive(held, now));
    if (!verdict.recover) return false;
    // Asked before the lease is taken: an agent that does not answer (its replica died too, and it has
    // not reconnected yet) decides nothing, and the lease stays as it was for the next pass.
    const seen = await runtime.describe(d.instance);
    const lock = deps.lockFor(d.id, d.instance, d.actor);
    const taken = await store.acquireLock(lock, clock.now(), verdict.takeFrom ? { takeFrom: verdict.takeFrom } : {});
    if (!taken.ok) return false; // another replica took it, or a new deployment took the instance
    const release = async () => {
      await store.releaseLock(d.instance, lock.owner).catch(() => undefined);
    };
    // From here the lease is this server's. A failure below leaves it to expire rather than releasing
    // it: a deployment without a lease looks abandoned (`no lease`) and would be failed, not resumed.
    const current = await store.getDeployment(d.id);
    if (current?.status !== 'running') {
      await release();
      return false;
    }
    const instance = await store.getInstance(d.instance);
    const startedBy = current.strategy === 'start-and-flip' ? current.id : (instance?.slots[current.toColor]?.deploymentId ?? undefined);
    const published = instance ? await store.getRelease(instance.app, current.toVersion) : undefined;
    const plan = resumePlan(current, { seen, startedBy, published: published !== undefined, noLease: verdict.why === 'no lease' });
    const previous = held?.holder ? replicaName(held.holder) : (held?.owner ?? 'unknown');
    if (plan.resume) {
      const resumed = { step: plan.from, why: verdict.why, by: replicaName(deps.holder), from: previous };
      deps.log?.info({ deployment: d.id, instance: d.instance, ...resumed }, `resuming ${current.kind} of ${current.toVersion} at ${plan.from ?? 'its end'}: its server stopped (${verdict.why})`);
      // `resumePlan` resumes only a published release. Once running, the deployment owns the lease.
      await deps.resume(current, releaseSpecOf(published!), lock, resumed);
      return true;
    }
    deps.log?.info({ deployment: d.id, instance: d.instance, why: verdict.why }, `settling a deployment its server left running: ${plan.why}`);
    const flipped = flipDone(current);
    const message = `the server running it stopped (${verdict.why}) and it cannot be resumed: ${plan.why}; ` + (flipped ? `the agent serves ${seen?.active ?? 'nothing'}` : 'the previous slot kept serving');
    // Never the slot users are on, whatever the records say.
    await deps.fail(current, runningStep(current), new CutoverError('DEPLOYMENT_FAILED', message, { details: { recovery: verdict.why } }), release, plan.ownSlot);
    return true;
  }
  return {
    settle,
    /** Takes over every running deployment of a dead server (resumed, or failed); returns how many. */
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
