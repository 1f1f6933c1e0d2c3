/**
 * The supervisor: starts, health-checks, restarts and stops slot processes and captures their output.
 * Other folders import only this file.
 */
export { createSupervisor } from './supervisor.ts';
export { buildSlotEnv, INHERITED_ENV_KEYS } from './slot-env.ts';
export { allocateLoopbackPort, loopbackPortFree } from './free-port.ts';
export { applyHealthCheck, describeCheck, probeHealth } from './health-probe.ts';
export type { HealthCounters } from './health-probe.ts';
export { describeDrain, probeDrain } from './drain-probe.ts';
export { backoffDelay, DEFAULT_RESTART_POLICY, planRestart } from './restart-policy.ts';
export type { CrashHistory, RestartDecision } from './restart-policy.ts';
export { pidFilePath, readPidFile } from './pid-file.ts';
export { buildTestEnv, maskSecrets, runTestProcess, TEST_OUTPUT_BYTES } from './test-process.ts';
export { stopOrphanSlots } from './orphans.ts';
export type { OrphanOutcome } from './orphans.ts';
export { allocateSlotUid, killUidProcesses, passwdUids, resolveSlotUser, runningUids } from './slot-user.ts';
export type { SlotUser, UidRange } from './slot-user.ts';
export type {
  CrashEvent,
  DrainSpec,
  DrainStatus,
  HealthCheckResult,
  HealthOutcome,
  PidInfo,
  RestartPolicy,
  SlotInfo,
  SlotSpec,
  SlotState,
  StopOptions,
  StopProgress,
  Supervisor,
  SupervisorOptions,
  TestProcessResult,
  TestProcessSpec,
} from './types.ts';
