export type { Store } from './store.ts';
export type {
  AuditEntry,
  DeploymentKind,
  DeploymentRecord,
  DeploymentStatus,
  InstanceRecord,
  LockRecord,
  LockResult,
  NewAuditEntry,
  ReleaseRecord,
  Role,
  SlotRecord,
  SlotStatus,
  StepRecord,
  StepStatus,
  TokenRecord,
} from './types.ts';
export { createMemoryStore } from './memory/memory-store.ts';
export { createSqliteStore } from './sqlite/sqlite-store.ts';
