import { createHash } from 'node:crypto';
import type { Clock } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord, Store } from '../store/index.ts';
import type { Runtime, RuntimeLocalRollback } from './runtime.ts';
import { finaliseInstance } from './instance-transitions.ts';
import { FLIP_TO_WARM_STEPS } from './steps.ts';
import { deploymentEntry } from './deployment-audit.ts';

/**
 * What the records say about a local rollback (pure):
 * - `record`: they still show `from` live: the rollback is recorded as a rollback deployment;
 * - `already`: they show `to` live (a rollback from the server went the same way): only acknowledged;
 * - `stale`: they moved on since (another deployment, the instance deleted): acknowledged and logged, nothing changed.
 */
export type LocalRollbackVerdict = 'record' | 'already' | 'stale';

const serves = (instance: InstanceRecord, at: { color: string; version: string }): boolean =>
  instance.activeColor === at.color && instance.slots[at.color as 'blue' | 'green']?.version === at.version;

export function judgeLocalRollback(instance: InstanceRecord | undefined, action: RuntimeLocalRollback): LocalRollbackVerdict {
  if (!instance) return 'stale';
  if (serves(instance, action.from)) return 'record';
  if (serves(instance, action.to)) return 'already';
  return 'stale';
}

/**
 * The deployment id a local rollback is recorded under: derived from the machine and the
 * rollback's id, so a round cut short (the server stopped between writes) finds its own record
 * next time instead of writing a second one.
 */
export const localRollbackDeploymentId = (machine: string, action: RuntimeLocalRollback): string =>
  `dpl_${createHash('sha256').update(`${machine}/${action.id}`).digest('hex').slice(0, 12)}`;

/**
 * The records a local rollback leaves (pure): exactly those of a manual rollback to the warm slot
 * (kind `rollback`, strategy `flip-to-warm`, its steps done, `succeeded`, the live and warm slots
 * swapped in the instance), by `machine:<name>`, timed at the machine's flip.
 */
export function localRollbackRecords(
  instance: InstanceRecord,
  action: RuntimeLocalRollback,
  machine: string,
  now: number,
  rollbackWindowMs: number,
): { deployment: DeploymentRecord; instance: InstanceRecord } {
  const at = action.at;
  const deployment: DeploymentRecord = {
    id: localRollbackDeploymentId(machine, action),
    instance: instance.name,
    kind: 'rollback',
    strategy: 'flip-to-warm',
    fromVersion: action.from.version,
    toVersion: action.to.version,
    fromColor: action.from.color,
    toColor: action.to.color,
    status: 'succeeded',
    steps: FLIP_TO_WARM_STEPS.map((name) => ({
      name,
      status: 'done' as const,
      startedAt: at,
      finishedAt: at,
      ...(name === 'flip' ? { detail: { flippedAt: at, localRollback: action.id, machine } } : {}),
    })),
    actor: `machine:${machine}`,
    app: instance.app,
    reason: `local rollback on machine ${machine} at ${new Date(at).toISOString()} (\`cutover local rollback\` while the server was away), recorded when the server was back`,
    createdAt: at,
    updatedAt: now,
    finishedAt: at,
  };
  const next = finaliseInstance(instance, deployment, at, rollbackWindowMs);
  next.updatedAt = now;
  return { deployment, instance: next };
}

export interface LocalRollbackDeps {
  store: Store;
  clock: Clock;
  /** How long the slot rolled back from stays warm, counted from the machine's flip (as for any rollback). */
  rollbackWindowMs: number;
  /** How long the instance's lease is taken for while one rollback is recorded. */
  lockTtlMs: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface LocalRollbackOutcome {
  id: string;
  instance: string;
  /** `waiting`: the instance's lease is held (a deployment runs); tried again next round, not acknowledged. */
  outcome: LocalRollbackVerdict | 'waiting';
  /** The rollback deployment recorded for it (`record`). */
  deployment?: string;
}

/** Records one local rollback under the instance's lease; `waiting` when another holds it. */
async function settleOne(deps: LocalRollbackDeps, machine: string, action: RuntimeLocalRollback): Promise<LocalRollbackOutcome> {
  const { store, clock, log } = deps;
  const id = localRollbackDeploymentId(machine, action);
  const base = { id: action.id, instance: action.instance };
  const now = clock.now();
  const owner = `machine:${machine} (${id})`;
  const lease = await store.acquireLock({ instance: action.instance, owner, deploymentId: id, acquiredAt: now, expiresAt: now + deps.lockTtlMs }, now);
  if (!lease.ok) return { ...base, outcome: 'waiting' };
  try {
    const instance = await store.getInstance(action.instance);
    const verdict = judgeLocalRollback(instance, action);
    const fields = { instance: action.instance, machine, from: action.from, to: action.to, at: new Date(action.at).toISOString(), localRollback: action.id };
    if (verdict === 'already') log?.info(fields, 'a local rollback the records already show; acknowledged');
    if (verdict === 'stale') log?.warn(fields, 'a local rollback the records have moved on from since; acknowledged, nothing changed');
    if (verdict !== 'record') return { ...base, outcome: verdict };
    const records = localRollbackRecords(instance!, action, machine, clock.now(), deps.rollbackWindowMs);
    const d = records.deployment;
    // A round cut short before the instance was saved left the deployment and its entries: not twice.
    if (!(await store.getDeployment(d.id))) {
      await store.insertDeployment(d);
      const details = { strategy: d.strategy, from: d.fromVersion, to: d.toVersion, localRollback: { id: action.id, machine, at: fields.at } };
      await store.appendAudit(deploymentEntry(clock.now(), d, 'rollback.start', { ...details, steps: d.steps.map((s) => s.name) }));
      await store.appendAudit(deploymentEntry(clock.now(), d, 'rollback.succeeded', { ...details, color: d.toColor }));
    }
    await store.saveInstanceState(records.instance);
    log?.info({ ...fields, deployment: d.id }, 'recorded a local rollback as a rollback deployment');
    return { ...base, outcome: 'record', deployment: d.id };
  } finally {
    await store.releaseLock(action.instance, owner).catch(() => false);
  }
}

/**
 * Turns the rollbacks made on `machine` without the server into the records a manual rollback
 * leaves, oldest first, then acknowledges them to the runtime (so the agent forgets them). It
 * never calls `flip`: the machine already serves the rollback. An instance whose lease is held
 * waits for the next round, and so do its later local rollbacks (they are judged in order).
 */
export async function reconcileLocalRollbacks(
  deps: LocalRollbackDeps,
  machine: string,
  runtime: Pick<Runtime, 'localRollbacks' | 'ackLocalRollbacks'>,
): Promise<LocalRollbackOutcome[]> {
  const pending = await runtime.localRollbacks();
  const out: LocalRollbackOutcome[] = [];
  const blocked = new Set<string>();
  for (const action of [...pending].sort((a, b) => a.at - b.at)) {
    const outcome = blocked.has(action.instance) ? { id: action.id, instance: action.instance, outcome: 'waiting' as const } : await settleOne(deps, machine, action);
    if (outcome.outcome === 'waiting') blocked.add(action.instance);
    out.push(outcome);
  }
  const settled = out.filter((o) => o.outcome !== 'waiting').map((o) => o.id);
  if (settled.length) await runtime.ackLocalRollbacks(settled);
  return out;
}

/**
 * The server's loop over one machine's local rollbacks, and what the watchers ask of it: whether
 * an instance has a local rollback not recorded yet (`holds`). Until a first round has read the
 * machine's report, every instance is held: nothing may act on a record that may be out of date.
 */
export function createLocalRollbackReconciler(deps: LocalRollbackDeps, machine: string, runtime: Pick<Runtime, 'localRollbacks' | 'ackLocalRollbacks'>) {
  let held: Set<string> | undefined;
  let running: Promise<LocalRollbackOutcome[]> | undefined;
  return {
    machine,
    /** One round (one at a time); a failure leaves what was known from the last round. */
    run(): Promise<LocalRollbackOutcome[]> {
      running ??= reconcileLocalRollbacks(deps, machine, runtime)
        .then((outcomes) => {
          held = new Set(outcomes.filter((o) => o.outcome === 'waiting').map((o) => o.instance));
          return outcomes;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    /** Resolves once the round in progress (if any) has ended, whatever its outcome. */
    idle: (): Promise<void> => (running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    ),
    /** Whether the watchers must leave `instance` alone: a local rollback of it is not recorded yet (or not known yet). */
    holds: (instance: string): boolean => held === undefined || held.has(instance),
  };
}

export type LocalRollbackReconciler = ReturnType<typeof createLocalRollbackReconciler>;
