// The Store port's methods in the groups each dialect implements in a file of its own
// (`<dialect>-instances.ts`, `-deployments.ts`, `-leases.ts`, `-audit.ts`, `-problems.ts`,
// `-channels.ts`, `-fleet.ts`; releases and tokens stay in `<dialect>-store.ts`). Each such file
// returns one of these types, so a method that moves or goes missing in one dialect fails the typecheck.
import type { Store } from './store.ts';

export type InstanceMethods = Pick<Store, 'insertInstance' | 'getInstance' | 'listInstances' | 'saveInstanceState' | 'updateInstanceSpecs' | 'deleteInstance'>;
export type DeploymentMethods = Pick<Store, 'insertDeployment' | 'updateDeployment' | 'getDeployment' | 'listDeployments'>;
export type LeaseMethods = Pick<Store, 'acquireLock' | 'releaseLock' | 'getLock'>;
export type AuditMethods = Pick<Store, 'appendAudit' | 'listAudit' | 'readAuditChain' | 'auditHead'>;
export type ProblemMethods = Pick<Store, 'insertProblem' | 'getProblem' | 'resolveProblem' | 'listProblems'>;
export type ChannelMethods = Pick<
  Store,
  'insertChannel' | 'getChannel' | 'listChannels' | 'updateChannel' | 'listChannelPointers' | 'moveChannel' | 'listChannelMoves'
>;
export type FleetMethods = Pick<Store, 'getSetting' | 'putSetting' | 'putHold' | 'deleteHold' | 'listHolds' | 'insertHalt' | 'liftHalt' | 'listHalts'>;
export type MachineMethods = Pick<
  Store,
  'insertJoinToken' | 'findJoinTokenByHash' | 'listJoinTokens' | 'revokeJoinToken' | 'joinMachine' | 'getMachine' | 'findMachineByCredentialHash' | 'listMachines' | 'updateMachine'
  | 'getDesiredState' | 'putDesiredDocument' | 'recordDesiredAnswer' | 'saveMachineReport'
>;
export type AppConfigMethods = Pick<
  Store,
  'getAppConfigVersion' | 'listAppConfigVersions' | 'insertAppConfigVersion' | 'rewriteAppConfigVersions' | 'deleteAppConfigVersions'
>;
export type EdgeCertificateMethods = Pick<
  Store,
  'listEdgeCertificates' | 'getEdgeCertificate' | 'putEdgeCertificate' | 'deleteEdgeCertificate' | 'resealEdgeCertificateKeys'
>;
