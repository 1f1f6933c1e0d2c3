export { createDeployer } from './deployer.ts';
export type { Deployer, DeployerOptions, DeployRequest, SteerRequest } from './deployer.ts';
export { planDeployment, planRollback, warmSlotWith, START_AND_FLIP_STEPS, FLIP_TO_WARM_STEPS } from './plan-deployment.ts';
export type { DeploymentPlan, PlanResult } from './plan-deployment.ts';
export { finaliseInstance, abandonSlot, expiredWarmSlots } from './instance-transitions.ts';
export type {
  Runtime,
  RuntimeSlotSpec,
  RuntimeArtifact,
  HealthResult,
  HealthCheckSeen,
  RuntimeInstance,
  RuntimeSlot,
  RuntimeColorStats,
  RuntimeInstanceStats,
  RuntimeLocalRollback,
  RuntimeMaintenance,
  RuntimeTestSpec,
  RuntimeTestResult,
  RuntimeDesiredState,
  RuntimeDesiredAnswer,
  FlipOutcome,
  InstanceMachines,
  MachinesRuntime,
} from './runtime.ts';
export { spansMachines } from './runtime.ts';
export { compareWithAgent } from './agent-comparison.ts';
export { createMachineRuntime } from './machine-runtime.ts';
export type { MachineRuntimeDeps } from './machine-runtime.ts';
export { sumStats } from './sum-stats.ts';
export { planConverge } from './converge.ts';
export type { ConvergeOutcome, ConvergeStep } from './converge.ts';
export type { AgentCheck } from './agent-comparison.ts';
export {
  analyse,
  bakeDecision,
  diffCounters,
  histogramQuantile,
  resolveThresholds,
  DEFAULT_ANALYSIS_THRESHOLDS,
} from './analysis.ts';
export type {
  Analysis,
  AnalysisInput,
  AnalysisReason,
  AnalysisRule,
  AnalysisSnapshot,
  AnalysisThresholds,
  BakeAction,
  BakeProgress,
  CounterWindow,
  ColorSnapshot,
  LatencyBuckets,
  Percentile,
  StatusClass,
} from './analysis.ts';
export { normaliseRollout, describeRollout, rolloutFromRequest, DEFAULT_PAUSE_MS } from './rollout.ts';
export type { RawRollout } from './rollout.ts';
export {
  abortable,
  chooseTests,
  flippedAt,
  flipDone,
  kindOf,
  planSteps,
  shiftStepName,
  shiftStepPercent,
  verifyPending,
} from './steps.ts';
export type { StepKind, StepName, TestChoice } from './steps.ts';
export { undoAfterFailure } from './instance-transitions.ts';
export type { Undo } from './instance-transitions.ts';
export type { ReleaseProblem } from './step-runners.ts';
export { createTrafficControls } from './traffic-controls.ts';
export { changeHosts, deleteInstance, pruneArtifacts } from './instance-lifecycle.ts';
export type { DeletedInstance, LifecycleDeps, PruneResult } from './instance-lifecycle.ts';
export { planPrune } from './plan-prune.ts';
export type { PruneInput, PrunePlan, PruneDecision } from './plan-prune.ts';
export type { TrafficControls, PreviewAccess } from './traffic-controls.ts';
export { countersOf } from './step-hold.ts';
export {
  createLocalRollbackReconciler,
  judgeLocalRollback,
  localRollbackDeploymentId,
  localRollbackRecords,
  reconcileLocalRollbacks,
} from './local-rollbacks.ts';
export type { LocalRollbackDeps, LocalRollbackOutcome, LocalRollbackReconciler, LocalRollbackVerdict } from './local-rollbacks.ts';
export type { ConfigIdentity, DeployConfig } from './deploy-config.ts';
export { pendingConfigOf } from './deploy-config.ts';
