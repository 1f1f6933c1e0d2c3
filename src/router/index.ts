// Entry of the router subsystem: the data plane's HTTP/1.1 reverse proxy.
export { createRouter } from './router.ts';
export type {
  EdgeCertificate,
  EdgeCertificateInfo,
  ListenOptions,
  Router,
  RouterOptions,
  RouterInstanceState,
  RouterSlotState,
} from './router-types.ts';
export type { UpstreamTarget } from './upstream.ts';
export type { MaintenancePage } from './maintenance.ts';
export type { RouterColorStats, RouterInstanceStats, RouterLatencyHistogram } from './router-types.ts';
export { LATENCY_BUCKETS_MS, RESPONSE_CLASSES } from './slot-counters.ts';
export type { ResponseClass } from './slot-counters.ts';
export { VERSION_PATH, VERSION_SCRIPT_PATH, versionScriptFile } from './version-signal.ts';
export type { VersionInfo } from './version-signal.ts';
export { READY_PATH, decideReady } from './readiness.ts';
export type { InstanceExpectation, MachineExpectation, NotReadyReason, ReadyAnswer } from './readiness.ts';
