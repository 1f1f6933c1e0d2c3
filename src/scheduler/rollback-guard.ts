import { isCutoverError } from '../shared/index.ts';
import type { Clock, Color } from '../shared/index.ts';
import type { DeploymentRecord, Store } from '../store/index.ts';
import type { Deployer, DeployRequest } from '../deploy/index.ts';

/** What an automatic rollback expects the instance to serve when it acts. */
export interface RollbackExpectation {
  instance: string;
  /** The active colour the watcher judged. */
  color: Color;
  /** The deployment that put the judged slot there (the store's `slots[color].deploymentId`). */
  deploymentId: string;
}

/**
 * How an automatic rollback went. `INSTANCE_LOCKED`: a deployment (perhaps another watcher's
 * rollback) holds the instance, try again later; `MOVED`: the instance no longer serves what was
 * judged, so there is nothing left to roll back; anything else is the deployer's error code.
 */
export type RollbackOutcome =
  | { ok: true; deployment: DeploymentRecord }
  | { ok: false; code: string; message: string };

export interface RollbackGuard {
  /** Rolls back only if the instance still serves `expect` and no deployment holds it. Never throws. */
  rollback(expect: RollbackExpectation, request: DeployRequest): Promise<RollbackOutcome>;
}

/**
 * Serialises the automatic rollbacks of the watchers of one server (bake, health) and checks,
 * just before each, that the instance still serves what the watcher judged. Without it, a second
 * watcher that judged the same bad slot would call `deployer.rollback` after the first one's flip
 * had finished, and the deployer would plan a flip to the warm slot: the bad release again.
 * While the first rollback runs, its instance lock makes the second one INSTANCE_LOCKED; once it
 * has finished, the active colour (or its deployment) differs: MOVED. Between server replicas the
 * same checks read the shared store; the deployer's instance lock stays the last word.
 */
export function createRollbackGuard(deps: { store: Store; deployer: Deployer; clock: Clock }): RollbackGuard {
  const { store, deployer, clock } = deps;
  let queue: Promise<unknown> = Promise.resolve();

  async function attempt(expect: RollbackExpectation, request: DeployRequest): Promise<RollbackOutcome> {
    const lock = await store.getLock(expect.instance);
    if (lock && lock.expiresAt > clock.now() && lock.deploymentId === expect.deploymentId) return stopVerifying(expect, request);
    if (lock && lock.expiresAt > clock.now()) {
      return { ok: false, code: 'INSTANCE_LOCKED', message: `instance "${expect.instance}" is locked by ${lock.owner}` };
    }
    const instance = await store.getInstance(expect.instance);
    if (!instance || instance.activeColor !== expect.color || instance.slots[expect.color]?.deploymentId !== expect.deploymentId) {
      return { ok: false, code: 'MOVED', message: `instance "${expect.instance}" no longer serves deployment ${expect.deploymentId} on ${expect.color}` };
    }
    try {
      return { ok: true, deployment: await deployer.rollback(request) };
    } catch (error) {
      return { ok: false, code: isCutoverError(error) ? error.code : 'INTERNAL', message: (error as Error).message };
    }
  }

  /**
   * The judged deployment still holds the instance: it flipped and runs its `verify` test. Its
   * abort kills the test and flips back to the warm slot through its own failure path, so the
   * first of the two failures (the bake's, the test's) is the one rollback.
   */
  async function stopVerifying(expect: RollbackExpectation, request: DeployRequest): Promise<RollbackOutcome> {
    try {
      return { ok: true, deployment: await deployer.abort(expect.deploymentId, request.by) };
    } catch (error) {
      // DEPLOYMENT_NOT_RUNNING: it has just ended (its own verify failed, or it finished); judge again.
      return { ok: false, code: isCutoverError(error) && error.code === 'DEPLOYMENT_NOT_RUNNING' ? 'INSTANCE_LOCKED' : 'INTERNAL', message: (error as Error).message };
    }
  }

  return {
    rollback(expect, request) {
      // `deployer.rollback` resolves once the rollback holds the instance lock, so the next caller
      // in the queue sees the lock (or the flip) rather than the state both of them judged.
      const next = queue.then(() => attempt(expect, request)).catch((error: Error): RollbackOutcome => ({ ok: false, code: 'INTERNAL', message: error.message }));
      queue = next;
      return next;
    },
  };
}
