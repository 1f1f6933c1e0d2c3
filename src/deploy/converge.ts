// A machine brought to its instance's desired state (issue 18): a machine that joined the
// instance's placement, was away during a flip (unconfirmed, pending, skipped) or rolled back on
// its own gets the live release (started, health-checked, flipped to) and then the warm one.
// The plan is pure; `convergeMachine` acts on one machine under the instance's lease.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CutoverError, isCutoverError, systemActor } from '../shared/index.ts';
import type { Clock, Color } from '../shared/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import { auditEntry, mustGetRelease } from '../store/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { createLeaseKeeper } from './lease-keeper.ts';
import { withSlotEnv } from './deploy-config.ts';
import type { DeployConfig } from './deploy-config.ts';
import type { MachinesRuntime, Runtime, RuntimeInstance, RuntimeSlotSpec } from './runtime.ts';

/** The actor of `instance.converge` audit entries: the server bringing a machine to the records. */
export const CONVERGE_ACTOR = 'convergence';
/** How a convergence's lease owner starts (`converge:<machine> (cnv_…)`): a deployment waits for it. */
export const CONVERGE_OWNER = 'converge:';

/** One thing to do on the machine: start a release in a colour (health-checked), wait for a slot it holds to be healthy, or flip to it. */
export type ConvergeStep =
  | { kind: 'start'; color: Color; version: string; deploymentId: string }
  | { kind: 'health'; color: Color; version: string }
  | { kind: 'flip'; color: Color; version: string };

/** What a machine reports of the instance (the agent's `instance.describe`), enough to plan. */
export type MachineView = Pick<RuntimeInstance, 'active' | 'slots'> | undefined;

const RUNNING = new Set(['healthy', 'starting', 'unhealthy', 'restarting']);
const holds = (view: MachineView, color: Color, version: string): boolean =>
  view?.slots.some((s) => s.color === color && s.version === version && RUNNING.has(s.state)) ?? false;

/**
 * What brings the machine to the instance's records (pure): nothing when nothing is live yet, or
 * when the machine serves the live release in its colour and holds the warm one; else, in order,
 * start the live release if the machine does not hold it, flip to it, then start the warm release
 * if it does not hold it (so a rollback can flip to it).
 */
export function planConverge(instance: Pick<InstanceRecord, 'activeColor' | 'slots'>, view: MachineView): ConvergeStep[] {
  const color = instance.activeColor;
  const live = color ? instance.slots[color] : null;
  if (!color || !live || live.status !== 'live') return [];
  const steps: ConvergeStep[] = [];
  const serving = view?.active === color && holds(view, color, live.version);
  if (!serving) {
    // A slot it holds but that is not healthy yet (its agent just restarted it) is waited for, not restarted.
    const held = view?.slots.find((x) => x.color === color && x.version === live.version && RUNNING.has(x.state));
    if (!held) steps.push({ kind: 'start', color, version: live.version, deploymentId: live.deploymentId });
    else if (held.state !== 'healthy') steps.push({ kind: 'health', color, version: live.version });
    steps.push({ kind: 'flip', color, version: live.version });
  }
  const other: Color = color === 'blue' ? 'green' : 'blue';
  const warm = instance.slots[other];
  if (warm?.status === 'warm' && !holds(view, other, warm.version)) steps.push({ kind: 'start', color: other, version: warm.version, deploymentId: warm.deploymentId });
  return steps;
}

/** The slot a release's spec starts (a deployment's start step, and convergence). */
export function slotSpecOf(instance: string, color: Color, version: string, deploymentId: string, spec: ReleaseSpec): RuntimeSlotSpec {
  return {
    instance,
    color,
    version,
    digest: spec.artifact.digest,
    start: spec.start,
    env: spec.env,
    health: spec.health,
    stopTimeoutMs: spec.stopTimeoutMs,
    deploymentId,
    ...(spec.drain ? { drain: spec.drain } : {}),
  };
}

export interface ConvergeDeps {
  store: Store;
  runtime: MachinesRuntime;
  clock: Clock;
  leases: Pick<ReturnType<typeof createLeaseKeeper>, 'lockFor' | 'takeLock' | 'heartbeat'>;
  openArtifact: (digest: string) => Readable;
  /** App config: a slot is started again with the config version its record names. */
  appConfig?: DeployConfig;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** `done` (the steps taken), `none` (nothing to do), `busy` (a deployment holds the instance: the next round). */
export type ConvergeOutcome = { outcome: 'done'; steps: ConvergeStep[] } | { outcome: 'none' | 'busy' };

/**
 * Brings `machine` to the instance's desired state. The live release is started and checked on
 * it first without the instance's lease (in the live colour, which no deployment touches: they
 * start in the idle one), so a long download or health wait never blocks a rollback; then, under
 * the lease (a deployment holds it: `busy`, the next round), the plan is made again from the
 * records and the machine as they are now and carried out: the flip (its router checks the slot
 * serves that version, healthy, in the same tick), then the warm release. A failure is thrown,
 * naming the machine.
 */
export async function convergeMachine(deps: ConvergeDeps, instanceName: string, machine: string): Promise<ConvergeOutcome> {
  const on = deps.runtime.on([machine]);
  const first = await deps.store.getInstance(instanceName);
  if (!first) return { outcome: 'none' };
  const planned = planConverge(first, await on.describe(instanceName));
  if (planned.length === 0) return { outcome: 'none' };
  const held = await deps.store.getLock(instanceName);
  if (held && held.expiresAt > deps.clock.now()) return { outcome: 'busy' };
  deps.log?.info({ instance: instanceName, machine, steps: planned }, "bringing a machine to the instance's desired state");
  const act = actOn(deps, on, first, machine);
  await on.ensureInstance(instanceName, first.hosts);
  // Up to the flip: the live release, outside the lease.
  const beforeFlip = planned.slice(0, Math.max(0, planned.findIndex((s) => s.kind === 'flip')));
  for (const step of beforeFlip) await act(step);

  const id = `cnv_${randomBytes(6).toString('hex')}`;
  // Planned again before the lease is taken: a report seen in passing (a warm slot being stopped by
  // its expiry, a deployment just finished) must not take the lease from the next deployment.
  const current = await deps.store.getInstance(instanceName);
  if (!current || planConverge(current, await on.describe(instanceName)).length === 0) return beforeFlip.length ? { outcome: 'done', steps: beforeFlip } : { outcome: 'none' };
  const lock = deps.leases.lockFor(id, instanceName, `${CONVERGE_OWNER}${machine}`);
  try {
    await deps.leases.takeLock(lock);
  } catch (error) {
    if (isCutoverError(error) && error.code === 'INSTANCE_LOCKED') return { outcome: 'busy' };
    throw error;
  }
  const lost: { error?: CutoverError } = {};
  const stop = deps.leases.heartbeat(id, lock, lost);
  try {
    const instance = await deps.store.getInstance(instanceName);
    if (!instance) return { outcome: 'none' };
    const steps = planConverge(instance, await on.describe(instanceName));
    const again = actOn(deps, on, instance, machine);
    for (const step of steps) {
      if (lost.error) throw lost.error;
      await again(step);
    }
    const done = [...beforeFlip, ...steps];
    deps.log?.info({ instance: instanceName, machine }, "the machine serves the instance's live release");
    await deps.store
      .appendAudit(
        auditEntry(systemActor(CONVERGE_ACTOR), 'instance.converge', instanceName, {
          at: deps.clock.now(),
          instance: instanceName,
          app: instance.app,
          version: instance.currentVersion,
          reason: `machine ${machine} did not serve what the records say (it was away, missed a flip, joined the placement or lost its state); brought there`,
          details: { machine, steps: done },
        }),
      )
      .catch((e: Error) => deps.log?.warn({ instance: instanceName, machine, err: e.message }, 'could not audit the convergence'));
    return { outcome: 'done', steps: done };
  } finally {
    stop();
    await deps.store.releaseLock(instanceName, lock.owner).catch(() => false);
  }
}

/** Carries out one step of a plan on the machine (`on`, the runtime narrowed to it). */
function actOn(deps: ConvergeDeps, on: Runtime, instance: InstanceRecord, machine: string) {
  const specs = new Map<string, ReleaseSpec>();
  const specOf = async (version: string) => {
    let spec = specs.get(version);
    if (!spec) specs.set(version, (spec = releaseSpecOf(await mustGetRelease(deps.store, instance.app, version))));
    return spec;
  };
  return async (step: ConvergeStep): Promise<void> => {
    const spec = await specOf(step.version);
    if (step.kind === 'flip') {
      await on.flip(instance.name, step.color, step.version, 'forward');
      return;
    }
    if (step.kind === 'start') {
      await on.ensureArtifact(instance.name, spec.artifact.digest, () => deps.openArtifact(spec.artifact.digest));
      const withEnv = await withSlotEnv(deps.appConfig, instance.name, spec, instance.slots[step.color]?.configVersion);
      await on.startSlot(slotSpecOf(instance.name, step.color, step.version, step.deploymentId, withEnv));
    }
    const health = await on.waitHealthy(instance.name, step.color, spec.deployTimeoutMs);
    if (!health.ok) {
      throw new CutoverError('DEPLOYMENT_FAILED', `${step.version} did not become healthy on machine ${machine} (${step.color}): ${health.message}`, {
        details: { instance: instance.name, machine, reason: health.reason },
      });
    }
  };
}
