/**
 * The supervisor: starts, health-checks and stops slot processes and captures their output.
 * Other folders import only this file.
 */
export { createSupervisor } from './supervisor.ts';
export { buildSlotEnv, INHERITED_ENV_KEYS } from './slot-env.ts';
export { allocateLoopbackPort } from './free-port.ts';
export { applyHealthCheck, describeCheck, probeHealth } from './health-probe.ts';
export type { HealthCounters } from './health-probe.ts';
export type {
  HealthCheckResult,
  HealthOutcome,
  SlotInfo,
  SlotSpec,
  SlotState,
  Supervisor,
  SupervisorOptions,
} from './types.ts';
