// A machine brought to its instance's desired state (issue 18): a machine that joined the
// instance's placement, was away during a flip (unconfirmed, pending, skipped) or rolled back on
// its own gets the live release (started, health-checked, flipped to) and then the warm one.
// The plan is pure; `convergeMachine` acts on one machine under the instance's lease.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Clock, Color } from '../shared/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import { mustGetRelease } from '../store/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { createLeaseKeeper } from './lease-keeper.ts';
import type { MachinesRuntime, RuntimeInstance, RuntimeSlotSpec } from './runtime.ts';

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
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** `done` (the steps taken), `none` (nothing to do), `busy` (a deployment holds the instance: the next round). */
export type ConvergeOutcome = { outcome: 'done'; steps: ConvergeStep[] } | { outcome: 'none' | 'busy' };

/**
 * Brings `machine` to the instance's desired state, under the instance's lease (a deployment in
 * progress has it: `busy`, tried again at the next round). The live release first: started and
 * health-checked if the machine lacks it, then flipped to (its router checks the slot serves that
 * version, healthy, in the same tick); then the warm one. A failure is thrown, naming the machine.
 */
export async function convergeMachine(deps: ConvergeDeps, instanceName: string, machine: string): Promise<ConvergeOutcome> {
  const id = `cnv_${randomBytes(6).toString('hex')}`;
  const lock = deps.leases.lockFor(id, instanceName, `converge:${machine}`);
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
    const on = deps.runtime.on([machine]);
    const steps = planConverge(instance, await on.describe(instanceName));
    if (steps.length === 0) return { outcome: 'none' };
    deps.log?.info({ instance: instanceName, machine, steps }, 'bringing a machine to the instance\'s desired state');
    const specs = new Map<string, ReleaseSpec>();
    const specOf = async (version: string) => {
      let spec = specs.get(version);
      if (!spec) specs.set(version, (spec = releaseSpecOf(await mustGetRelease(deps.store, instance.app, version))));
      return spec;
    };
    await on.ensureInstance(instanceName, instance.hosts);
    for (const step of steps) {
      if (lost.error) throw lost.error;
      const spec = await specOf(step.version);
      if (step.kind === 'flip') {
        await on.flip(instanceName, step.color, step.version, 'forward');
        continue;
      }
      if (step.kind === 'start') {
        await on.ensureArtifact(instanceName, spec.artifact.digest, () => deps.openArtifact(spec.artifact.digest));
        await on.startSlot(slotSpecOf(instanceName, step.color, step.version, step.deploymentId, spec));
      }
      const health = await on.waitHealthy(instanceName, step.color, spec.deployTimeoutMs);
      if (!health.ok) {
        throw new CutoverError('DEPLOYMENT_FAILED', `${step.version} did not become healthy on machine ${machine} (${step.color}): ${health.message}`, {
          details: { instance: instanceName, machine, reason: health.reason },
        });
      }
    }
    deps.log?.info({ instance: instanceName, machine }, 'the machine serves the instance\'s live release');
    return { outcome: 'done', steps };
  } finally {
    stop();
    await deps.store.releaseLock(instanceName, lock.owner).catch(() => false);
  }
}
