import { CutoverError, otherColor } from '../shared/index.ts';
import type { DeploymentKind, DeploymentRecord, InstanceRecord, RolloutSpec } from '../store/index.ts';
import { shiftStepName } from './rollout.ts';
import type { Color } from '../shared/index.ts';

/** What a deployment will do, decided from plain data before anything is touched. */
export type DeploymentPlan = Pick<
  DeploymentRecord,
  'kind' | 'strategy' | 'fromVersion' | 'toVersion' | 'fromColor' | 'toColor'
> & { steps: string[] };

export type PlanResult = { ok: true; plan: DeploymentPlan } | { ok: false; error: CutoverError };

/** Steps of a deployment that starts the release in the idle slot. */
export const START_AND_FLIP_STEPS = ['prepare', 'start', 'health', 'flip', 'finalise'] as const;
/**
 * Steps of a flip back to a slot that is still warm. The check that the slot still serves the
 * expected version, healthy, happens inside the agent's flip, in the same tick as the switch.
 */
export const FLIP_TO_WARM_STEPS = ['flip', 'finalise'] as const;

/** The slot an instance can flip back to at `now`: the idle colour's, while it is warm. */
export function warmSlotWith(instance: InstanceRecord, now: number): { color: Color; version: string } | undefined {
  if (!instance.activeColor) return undefined;
  const idle = otherColor(instance.activeColor);
  const slot = instance.slots[idle];
  if (slot && slot.status === 'warm' && (slot.warmUntil ?? 0) > now) return { color: idle, version: slot.version };
  return undefined;
}

function plan(
  instance: InstanceRecord,
  kind: DeploymentKind,
  toVersion: string,
  now: number,
): DeploymentPlan {
  const warm = warmSlotWith(instance, now);
  const fromColor = instance.activeColor;
  if (warm && warm.version === toVersion) {
    return { kind, strategy: 'flip-to-warm', fromVersion: instance.currentVersion, toVersion, fromColor, toColor: warm.color, steps: [...FLIP_TO_WARM_STEPS] };
  }
  return {
    kind,
    strategy: 'start-and-flip',
    fromVersion: instance.currentVersion,
    toVersion,
    fromColor,
    toColor: fromColor ? otherColor(fromColor) : 'blue',
    steps: [...START_AND_FLIP_STEPS],
  };
}

/** The steps with one `shift-<percent>` step per rollout step, just before the flip. */
function withShifts(steps: string[], rollout: RolloutSpec): string[] {
  const at = steps.indexOf('flip');
  return [...steps.slice(0, at), ...rollout.steps.map(shiftStepName), ...steps.slice(at)];
}

/**
 * Plans a deployment of `version` to `instance`. Deploying the version the warm slot still holds is
 * a flip back to it; anything else starts the release in the idle slot. With a `rollout`, the new
 * colour gets its weighted steps before the flip; that needs a colour serving already.
 */
export function planDeployment(instance: InstanceRecord, version: string, now: number, rollout?: RolloutSpec): PlanResult {
  if (instance.currentVersion === version && instance.activeColor) {
    return {
      ok: false,
      error: new CutoverError(
        'ALREADY_ON_VERSION',
        `instance "${instance.name}" already serves ${version}; deploy a different version`,
        { details: { instance: instance.name, version } },
      ),
    };
  }
  const planned = plan(instance, 'deploy', version, now);
  if (!rollout) return { ok: true, plan: planned };
  if (!instance.activeColor) {
    return {
      ok: false,
      error: new CutoverError(
        'VALIDATION_FAILED',
        `instance "${instance.name}" serves nothing yet, so there is no traffic to shift gradually; deploy ${version} without --steps`,
        { details: { instance: instance.name, version } },
      ),
    };
  }
  return { ok: true, plan: { ...planned, steps: withShifts(planned.steps, rollout) } };
}

/**
 * Plans a rollback: a flip to the warm slot while the rollback window is open, otherwise a normal
 * deployment of the version that ran before the current one (from the deployment history).
 */
export function planRollback(instance: InstanceRecord, history: DeploymentRecord[], now: number): PlanResult {
  const warm = warmSlotWith(instance, now);
  if (warm) return { ok: true, plan: plan(instance, 'rollback', warm.version, now) };
  const current = instance.currentVersion;
  const lastArrival = history.find((d) => d.status === 'succeeded' && d.toVersion === current);
  const previous = lastArrival?.fromVersion ?? null;
  if (!current || !previous) {
    return {
      ok: false,
      error: new CutoverError(
        'NOTHING_TO_ROLL_BACK',
        current
          ? `instance "${instance.name}" has no version before ${current} to roll back to; deploy one explicitly`
          : `instance "${instance.name}" serves nothing yet; deploy a version first`,
        { details: { instance: instance.name, current } },
      ),
    };
  }
  return { ok: true, plan: plan(instance, 'rollback', previous, now) };
}
