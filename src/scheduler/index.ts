export { createScheduler, LEADER_LEASE } from './scheduler.ts';
export type { Scheduler, SchedulerOptions, TickReport } from './scheduler.ts';
export { loadPlanInput, toAttempt, SCHEDULER_ACTOR } from './plan-input.ts';
export { createBakeWatcher, ANALYSIS_ACTOR } from './bake-watcher.ts';
export type { BakeOptions, BakeWatcher } from './bake-watcher.ts';
export { createHealthWatcher, HEALTH_ACTOR, HEALTH_LEASE } from './health-watcher.ts';
export type { HealthFinding, HealthWatcher, HealthWatcherOptions } from './health-watcher.ts';
export { createRollbackGuard } from './rollback-guard.ts';
export type { RollbackExpectation, RollbackGuard, RollbackOutcome } from './rollback-guard.ts';
