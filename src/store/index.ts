export type { Store } from './store.ts';
export type {
  AuditEntry,
  AuditFilter,
  ChannelMove,
  ChannelPointer,
  ChannelPolicy,
  ChannelRecord,
  DeploymentKind,
  DeploymentMachines,
  DeploymentRecord,
  DeploymentStatus,
  HaltRecord,
  HoldRecord,
  NewHalt,
  InstancePage,
  InstancePlacement,
  InstanceRecord,
  InstanceSpecChange,
  InstanceTarget,
  AcquireOptions,
  LeaseHolder,
  LockRecord,
  LockResult,
  MoveResult,
  NewAuditEntry,
  NewProblem,
  ProblemFilter,
  ProblemRecord,
  ProblemStatus,
  ReleaseRecord,
  Role,
  SlotRecord,
  SlotStatus,
  StepRecord,
  StepName,
  RolloutSpec,
  StepStatus,
  TokenRecord,
} from './types.ts';
export { mustGetChannel, mustGetInstance, mustGetProblem, mustGetRelease } from './lookups.ts';
export { auditEntry } from './audit-entry.ts';
export type { AuditFields } from './audit-entry.ts';
export type { DesiredAnswer, DesiredStateRecord, JoinOutcome, JoinRequest, JoinTokenRecord, MachineChange, MachineRecord, MachineStatus, NewDesiredDocument } from './machine-records.ts';
export type { AppConfigEntry, AppConfigLayer, AppConfigVersion, SealedValue } from './app-config-records.ts';
export type { EdgeCertificateRecord } from './edge-cert-records.ts';
export { createMemoryStore } from './memory/memory-store.ts';
export { createSqliteStore } from './sqlite/sqlite-store.ts';
export { auditHash, chainAuditEntry, createChainVerifier, verifyAuditChain } from './audit-chain.ts';
export type { ChainCheck, ChainProblem } from './audit-chain.ts';
export { createPostgresStore } from './postgres/index.ts';
export { openStore, openArtifactBlobs, openReplicaBus, describeDatabase, isPostgresUrl } from './open-store.ts';
export type { ArtifactBlobs, SharedArtifact } from './artifact-blobs.ts';
export { createMemoryArtifactBlobs } from './memory/memory-artifact-blobs.ts';
export type { MemoryArtifactBlobsOptions, MemoryBlob } from './memory/memory-artifact-blobs.ts';
export type { MachineHolder, RelayHandler, ReplicaBus, ReplicaBusListeners } from './replica-bus.ts';
export { createMemoryBusHub, createMemoryReplicaBus } from './memory/memory-replica-bus.ts';
export type { MemoryBusHub } from './memory/memory-replica-bus.ts';
