import { CutoverError, otherColor } from '../shared/index.ts';
import type { DeploymentKind, DeploymentRecord, InstanceRecord, RolloutSpec } from '../store/index.ts';
import { FLIP_TO_WARM_STEPS, START_AND_FLIP_STEPS, planSteps } from './steps.ts';
import type { StepName } from './steps.ts';
import type { Color } from '../shared/index.ts';
import { digestOf } from './deploy-config.ts';

/** What a deployment will do, decided from plain data before anything is touched. */
export type DeploymentPlan = Pick<
  DeploymentRecord,
  'kind' | 'strategy' | 'fromVersion' | 'toVersion' | 'fromColor' | 'toColor'
> & { steps: StepName[] };

export type PlanResult = { ok: true; plan: DeploymentPlan } | { ok: false; error: CutoverError };

export { FLIP_TO_WARM_STEPS, START_AND_FLIP_STEPS };

/** The slot an instance can flip back to at `now`: the idle colour's, while it is warm, with the app config it runs. */
export function warmSlotWith(instance: InstanceRecord, now: number): { color: Color; version: string; configVersion?: number; configDigest: string } | undefined {
  if (!instance.activeColor) return undefined;
  const idle = otherColor(instance.activeColor);
  const slot = instance.slots[idle];
  if (slot && slot.status === 'warm' && (slot.warmUntil ?? 0) > now) {
    return { color: idle, version: slot.version, configDigest: digestOf(slot), ...(slot.configVersion !== undefined ? { configVersion: slot.configVersion } : {}) };
  }
  return undefined;
}

/**
 * A flip to the warm slot only when it holds the pair: the version and, when `configDigest` is
 * given (a deployment of the current app config), that config too. A rollback (no digest) takes
 * the warm slot's pair as it is.
 */
function plan(
  instance: InstanceRecord,
  kind: DeploymentKind,
  toVersion: string,
  now: number,
  configDigest?: string,
): DeploymentPlan {
  const warm = warmSlotWith(instance, now);
  const fromColor = instance.activeColor;
  if (warm && warm.version === toVersion && (configDigest === undefined || warm.configDigest === configDigest)) {
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

/**
 * Plans a deployment of `version` to `instance`. Deploying the version the warm slot still holds is
 * a flip back to it; anything else starts the release in the idle slot. With a `rollout`, the new
 * colour gets its weighted steps before the flip; that needs a colour serving already.
 */
export function planDeployment(instance: InstanceRecord, version: string, now: number, rollout?: RolloutSpec, configDigest = ''): PlanResult {
  // The pair (release, app config): the same release with another config is a deployment too.
  if (instance.currentVersion === version && instance.activeColor && digestOf(instance.slots[instance.activeColor]) === configDigest) {
    return {
      ok: false,
      error: new CutoverError(
        'ALREADY_ON_VERSION',
        `instance "${instance.name}" already serves ${version} with its current app config; deploy a different version, or change the app config first`,
        { details: { instance: instance.name, version } },
      ),
    };
  }
  const planned = plan(instance, 'deploy', version, now, configDigest);
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
  return { ok: true, plan: { ...planned, steps: planSteps(planned.strategy, { rollout }) } };
}

/**
 * Plans a rollback. Without `to`: a flip to the warm slot while the rollback window is open,
 * otherwise a normal deployment of the version that ran before the current one (from the
 * deployment history). A second rollback in a row is refused (ALREADY_ROLLED_BACK): going back
 * again would go forward, to the release just rolled back from. With `to`: that version, which the
 * instance must have run before (a flip back to it when the warm slot still holds it).
 */
/** Whether `d` took its instance to its release: succeeded, or flipped with some machines left to converge (`partial`). */
export const landed = (d: Pick<DeploymentRecord, 'status'>): boolean => d.status === 'succeeded' || d.status === 'partial';

export function planRollback(instance: InstanceRecord, history: DeploymentRecord[], now: number, to?: string): PlanResult {
  const current = instance.currentVersion;
  if (!current || !instance.activeColor) {
    return refuse('NOTHING_TO_ROLL_BACK', `instance "${instance.name}" serves nothing yet; deploy a version first`, instance, { current });
  }
  if (to !== undefined) return planRollbackTo(instance, history, now, to);
  // The deployment that brought the current version (history is newest first).
  const lastArrival = history.find((d) => landed(d) && d.toVersion === current);
  if (lastArrival?.kind === 'rollback' && lastArrival.fromVersion) {
    return refuse(
      'ALREADY_ROLLED_BACK',
      `instance "${instance.name}" already rolled back to ${current}; deploy ${lastArrival.fromVersion} to go forward ` +
        `(\`cutover deploy ${instance.name} ${lastArrival.fromVersion}\`), or name an older version with \`cutover rollback ${instance.name} --to VERSION\``,
      instance,
      { current, rolledBackFrom: lastArrival.fromVersion, deployment: lastArrival.id },
    );
  }
  const warm = warmSlotWith(instance, now);
  if (warm) return { ok: true, plan: plan(instance, 'rollback', warm.version, now) };
  const previous = lastArrival?.fromVersion ?? null;
  if (!previous) {
    return refuse('NOTHING_TO_ROLL_BACK', `instance "${instance.name}" has no version before ${current} to roll back to; deploy one explicitly`, instance, { current });
  }
  return { ok: true, plan: plan(instance, 'rollback', previous, now) };
}

/** The versions an instance has served: its warm slot's, then, newest first, where each successful deployment took it and where it came from. */
function versionsRun(instance: InstanceRecord, history: DeploymentRecord[], now: number): string[] {
  const seen = new Set<string>();
  const warm = warmSlotWith(instance, now);
  if (warm) seen.add(warm.version);
  for (const d of history) {
    if (!landed(d)) continue;
    seen.add(d.toVersion);
    if (d.fromVersion) seen.add(d.fromVersion);
  }
  return [...seen];
}

function planRollbackTo(instance: InstanceRecord, history: DeploymentRecord[], now: number, to: string): PlanResult {
  if (to === instance.currentVersion) {
    return refuse('ALREADY_ON_VERSION', `instance "${instance.name}" already serves ${to}; name an earlier version it ran`, instance, { version: to });
  }
  const ran = versionsRun(instance, history, now).filter((v) => v !== instance.currentVersion);
  if (!ran.includes(to)) {
    return refuse(
      'VALIDATION_FAILED',
      `instance "${instance.name}" never ran ${to}, so there is nothing to roll back to; ` +
        (ran.length ? `it ran ${ran.slice(0, 10).join(', ')}` : 'it ran no other version') +
        `. To run a release it never ran, deploy it: \`cutover deploy ${instance.name} ${to}\``,
      instance,
      { version: to, ran: ran.slice(0, 10) },
    );
  }
  return { ok: true, plan: plan(instance, 'rollback', to, now) };
}

function refuse(code: 'NOTHING_TO_ROLL_BACK' | 'ALREADY_ROLLED_BACK' | 'ALREADY_ON_VERSION' | 'VALIDATION_FAILED', message: string, instance: InstanceRecord, details: Record<string, unknown>): PlanResult {
  return { ok: false, error: new CutoverError(code, message, { details: { instance: instance.name, ...details } }) };
}
