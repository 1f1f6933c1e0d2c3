export { changedFields, publishRelease } from './publish-release.ts';
export type { PublishResult } from './publish-release.ts';
export { collectUnreferencedArtifacts } from './collect-artifacts.ts';
export { bootstrapAdminToken, createToken, createTokenSchema, hashToken, listTokens, newToken, revokeToken } from './tokens.ts';
export { accessProblem, roleAllows } from './access.ts';
export type { Operation, PublisherAccess, RankedRole } from './access.ts';
export { resolveApp } from './resolve-app.ts';
export {
  checkPromotion,
  createChannel,
  createChannelSchema,
  ensureBuiltInChannels,
  listChannelViews,
  promote,
  promoteSchema,
  showChannel,
  updateChannel,
  updateChannelSchema,
} from './channels.ts';
export type { ChannelView, PromotionCheck, PromotionResult } from './channels.ts';
export { listProblems, listProblemsQuery, reportProblem, reportProblemSchema, resolveProblem, resolveProblemSchema } from './problems.ts';
export {
  createInstance,
  createInstanceSchema,
  hostnameField,
  listInstanceViews,
  listInstancesQuery,
  loadPointerIndex,
  targetSchema,
  placeUnplacedInstances,
  updateInstance,
  updateInstanceSchema,
  viewOf,
  windowField,
} from './instances.ts';
export type { CreateInstanceInput, InstancePageView, InstanceView, UpdateInstanceInput } from './instances.ts';
export { bulkSetTarget, bulkTargetSchema, setInstanceTarget, setTargetSchema } from './targets.ts';
export type { BulkTargetResult, TargetChange } from './targets.ts';
export { assertChainOk, auditQuery, queryAudit, verifyAudit } from './audit.ts';
export type { AuditQuery } from './audit.ts';
export { releaseDiff } from './release-diff-view.ts';
export { evaluatePromotion, defaultChannels, DEFAULT_CHANNELS, soakTime, formatMinuteUtc } from './promotion-policy.ts';
export type { PromotionInput, PromotionVerdict, PromotionFailure, SoakDetails, SoakTime, ChannelDefinition } from './promotion-policy.ts';
export { parseSelector, matchesSelector, formatSelector } from './selector.ts';
export type { Selector, SelectorTerm, SelectorField } from './selector.ts';
export { activeHolds, holdInstance, holdSchema, unholdInstance, unholdSchema } from './holds.ts';
export { fleetPolicyPatchSchema, getFleetPolicy, readFleetPolicy, resumeRollout, resumeSchema, updateFleetPolicy } from './fleet-settings.ts';
export type { FleetPolicyRead } from './fleet-settings.ts';
export { duePromotions } from './due-promotions.ts';
export type { DuePromotion, DuePromotionsInput } from './due-promotions.ts';
export { isoTimeField } from './iso-time.ts';
export { checkJoinToken, createJoinToken, createJoinTokenSchema, listJoinTokens, revokeJoinToken } from './join-tokens.ts';
export type { JoinTokenDeps, JoinTokenInfo, JoinTokenVerdict } from './join-tokens.ts';
export { authenticateMachine, getMachine, joinMachineSchema, joinMachine, listMachines, machineHeartbeat, machineHeartbeatSchema, rotateMachineCredential, setMachineStatus } from './machines.ts';
export type { MachineInfo, MachineView } from './machines.ts';
export { activeMachinesOf, changePlacement, choosePlacement, hasDeployedRelease, machineMatches, machinesOf, placedOn, placementText, strandedBy } from './placement.ts';
export type { PlaceOutcome, PlacementRequest } from './placement.ts';
export { instancesOnMachine } from './machine-desired.ts';
export { desiredDigest, desiredStateOf, differences, driftOf, driftText, nextDesiredNumber } from './desired-state.ts';
export type { DesiredInput, Drift, ReportedInstance } from './desired-state.ts';
export { desiredStateFor, nextDesiredState, recordDesiredAnswer, recordHeldCertificates, recordMachineReport, reportedCertificates } from './machine-desired.ts';
export type { ReportedCertificate } from './machine-desired.ts';
export {
  currentAppConfig,
  diffAppConfig,
  pruneAppConfigVersions,
  resolvedConfigOf,
  rotateKeySchema,
  rotateSecretKey,
  setAppConfig,
  setAppConfigSchema,
  showAppConfig,
  unsetAppConfig,
  unsetAppConfigSchema,
} from './app-config.ts';
export type { AppConfigChangeView, AppConfigDeps, SetAppConfigInput, UnsetAppConfigInput } from './app-config.ts';
export { configDigest, createDeployAppConfig } from './deploy-app-config.ts';
export {
  desiredCertificatesOf,
  edgeCertificatesFor,
  listEdgeCertificateViews,
  removeEdgeCertificate,
  resealEdgeCertificates,
  setEdgeCertificate,
  setEdgeCertificateSchema,
} from './edge-certs.ts';
export type { DeliveredCertificate, EdgeCertDeps, EdgeCertificateView, SetEdgeCertificateInput } from './edge-certs.ts';
