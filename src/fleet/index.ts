// Fleet: keeping every instance on its target, inside its own maintenance window.
export { parseWindow, formatWindow, WEEKDAYS } from './maintenance-window.ts';
export type { MaintenanceWindow, WindowRule, Weekday } from './maintenance-window.ts';
export { windowAt, nextOpening } from './window-at.ts';
export type { WindowState, Opening } from './window-at.ts';
export { resolveTarget, pointerIndex, lookupPointer } from './resolve-target.ts';
export type { ResolvedTarget, PointerIndex } from './resolve-target.ts';
export { fleetPolicySchema, DEFAULT_FLEET_POLICY, FLEET_POLICY_KEY, upgradePolicyKeys, windowSchema } from './fleet-policy.ts';
export type { FleetPolicy, UpgradedPolicy } from './fleet-policy.ts';
export { LOCAL_MACHINE } from './plan-types.ts';
export type { Attempt, Decision, FleetPlan, InstancePlan, NewHaltDecision, PlanInput } from './plan-types.ts';
export { planFleet } from './plan-fleet.ts';
export { explain, humanDuration, localDateTime } from './explain.ts';
export type { ExplainOptions } from './explain.ts';
