import type { HaltRecord, HoldRecord, InstanceRecord } from '../store/index.ts';
import type { FleetPolicy } from './fleet-policy.ts';
import type { PointerIndex, ResolvedTarget } from './resolve-target.ts';

/** One deployment of a version to an instance, as the planner sees history (any actor). */
export interface Attempt {
  instance: string;
  app: string;
  version: string;
  startedAt: number;
  /** null while it runs. */
  finishedAt: number | null;
  outcome: 'running' | 'succeeded' | 'failed';
  /** The failure's message, for `why`. */
  error: string | null;
  /** Started by the scheduler (actor `scheduler`) rather than by a person. */
  scheduled: boolean;
}

/** Everything the planner decides from. Plain data; `now` is the only time it knows. */
export interface PlanInput {
  now: number;
  policy: FleetPolicy;
  instances: readonly InstanceRecord[];
  pointers: PointerIndex;
  /** Holds by instance name (expired ones may be included: the planner compares `until` with `now`). */
  holds: ReadonlyMap<string, HoldRecord>;
  /** Every halt, lifted ones included (a lift restarts the failure count). */
  halts: readonly HaltRecord[];
  /** Deployments of kind `deploy` within the policy's lookback, any order. */
  attempts: readonly Attempt[];
  /**
   * The machines each instance runs on, by instance name (`machinesOf` its placement): an upgrade
   * runs on all of them at once, so it takes room on each. An instance missing here or with none
   * (no placement, a single-agent install) counts against one shared budget, `LOCAL_MACHINE`.
   */
  machines: ReadonlyMap<string, readonly string[]>;
  /**
   * Instances whose app config changed since their live slot started (issue 20): with the policy's
   * `applyAppConfig`, one on its target release is due for the same release with the new config.
   */
  pendingConfig?: ReadonlySet<string>;
}

/** The machine budget of instances that name no machine: one, shared by all of them. */
export const LOCAL_MACHINE = '(local)';

/** Why an instance is or is not upgraded now. One variant per sentence `why` can say. */
export type Decision =
  /** `from` equal to `to`: the same release with its pending app config (`applyAppConfig`). */
  | { kind: 'upgrade'; from: string | null; to: string }
  | { kind: 'on-target'; version: string }
  | { kind: 'no-target' }
  /** Its channel points nowhere for its app. */
  | { kind: 'unresolved'; channel: string }
  | { kind: 'held'; hold: HoldRecord }
  /** A deployment of it is running now. */
  | { kind: 'deploying'; version: string }
  /** The version's rollout is halted; `halt` null: it halts in this very plan (budget just ran out). */
  | { kind: 'halted'; version: string; halt: HaltRecord | null; failures: number; attempted: number }
  | { kind: 'waiting-wave'; version: string; environment: string; have: number; need: number }
  | { kind: 'waiting-window'; version: string; opensAt: number | null }
  | { kind: 'retry-wait'; version: string; attempts: number; retryAt: number; lastError: string | null; lastFailedAt: number }
  | { kind: 'gave-up'; version: string; attempts: number; lastError: string | null; lastFailedAt: number }
  /**
   * Due, but a parallel limit is reached: next tick. `machine`: the first of the instance's
   * machines (in name order) already running `maxParallelPerMachine` upgrades; null when the
   * fleet-wide limit is what stops it.
   */
  | { kind: 'capacity'; version: string; limit: 'fleet'; machine: null }
  | { kind: 'capacity'; version: string; limit: 'machine'; machine: string };

export interface InstancePlan {
  instance: string;
  app: string;
  environment: string;
  /** 0-based wave index (environments not in the policy's waves share the last index). */
  wave: number;
  /** The window that applies (the instance's own or its environment's default), canonical text. */
  window: string;
  /** The zone `why` and `plan` show local times in (the window's first rule's zone; UTC for anytime/never). */
  zone: string;
  currentVersion: string | null;
  target: ResolvedTarget;
  decision: Decision;
}

/** A version whose failure budget just ran out: the shell halts it and files a problem. */
export interface NewHaltDecision {
  app: string;
  version: string;
  failures: number;
  attempted: number;
  /** Human sentence for the halt and the problem, e.g. "3 of 5 upgrades to 1.5.0 failed (budget: 2)". */
  reason: string;
}

export interface FleetPlan {
  at: number;
  /** One entry per instance, in the order of `instances`. */
  entries: InstancePlan[];
  /** The upgrades to start now, in start order (a subset of entries, decision `upgrade`). */
  upgrades: InstancePlan[];
  halts: NewHaltDecision[];
  /** How many entries have each decision kind. */
  counts: Partial<Record<Decision['kind'], number>>;
}
