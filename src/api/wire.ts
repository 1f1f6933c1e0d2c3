// The answers of the API as types: what a client (the CLI) reads. They are inferred from the
// response schemas that also write the OpenAPI document, so the document, these types and the
// CLI agree; `wire.test.ts` checks that each service's answer fits its schema. The CLI imports
// these and nothing from `store/`: a change to a database record does not silently change what
// the CLI thinks the API returns.
import type { z } from 'zod';
import type { InstancePlan } from '../fleet/index.ts';
import type {
  auditEntrySchema,
  chainCheckSchema,
  channelDetailSchema,
  channelSchema,
  deploymentSchema,
  instanceSchema,
  moveSchema,
  policySchema,
  problemSchema,
  releaseSchema,
  tokenSchema,
  createdJoinTokenSchema,
  joinTokenSchema,
  machineSchema,
  machineWithCredentialSchema,
} from './schemas.ts';

/** A published release (`GET /api/releases/{version}`). */
export type ReleaseView = z.infer<typeof releaseSchema>;
/** An instance as stored (`POST /api/instances`, `PATCH`, `PUT …/hosts`). */
export type InstanceInfo = z.infer<typeof instanceSchema>;
/** What an instance should run: a version, a channel, or nothing declared. */
export type InstanceTargetView = InstanceInfo['target'];
/** A deployment with its steps (`GET /api/deployments/{id}`, deploy, rollback, abort, resume). */
export type DeploymentView = z.infer<typeof deploymentSchema>;
/** A channel as stored (create, update). */
export type ChannelInfo = z.infer<typeof channelSchema>;
/** A channel's promotion policy. */
export type ChannelPolicyView = z.infer<typeof policySchema>;
/** A channel with its pointers and history (`GET /api/channels/{name}`). */
export type ChannelDetail = z.infer<typeof channelDetailSchema>;
/** One move of a channel's pointer. */
export type ChannelMoveView = z.infer<typeof moveSchema>;
/** A known problem against a release. */
export type ProblemView = z.infer<typeof problemSchema>;
/** One audit entry, hash-chained. */
export type AuditEntryView = z.infer<typeof auditEntrySchema>;
/** The answer of `GET /api/audit/verify`. */
export type ChainCheckView = z.infer<typeof chainCheckSchema>;
/** A token as the API shows it: never its hash; the secret itself only once, when created. */
export type TokenInfo = z.infer<typeof tokenSchema>;
/** A join token as listed (`GET /api/join-tokens`): never the token or its hash. */
export type JoinTokenView = z.infer<typeof joinTokenSchema>;
/** A join token as created: the token itself, once, with the URLs and fingerprint it embeds. */
export type CreatedJoinTokenView = z.infer<typeof createdJoinTokenSchema>;
/** A machine (`GET /api/machines/{name}`): never its credential's hash. */
export type MachineView = z.infer<typeof machineSchema>;
/** A machine with a new credential (join, rotate-credential): the credential shown once. */
export type MachineWithCredentialView = z.infer<typeof machineWithCredentialSchema>;
/** A token's role. */
export type RoleName = TokenInfo['role'];

// Answers whose schemas only sketch them (nested unions the OpenAPI document leaves open): the
// services' own result types, exported from here so clients still import them from `api/` only.
export type { BulkTargetResult, PromotionCheck, PromotionResult } from '../control/index.ts';
// The services' names for these views; `wire.test.ts` checks each fits its response schema.
export type { ChannelView, InstanceView, TargetChange } from '../control/index.ts';
export type { AgentCheck, DeletedInstance, PreviewAccess, PruneResult } from '../deploy/index.ts';
export type { InstanceStatus } from './instance-status.ts';

export type { InstancePlan };

/** One entry of `GET /api/fleet/plan` and the answer of `GET /api/instances/{name}/why`. */
export interface PlanEntry extends InstancePlan {
  why: string;
  /** ISO 8601 UTC; null when not scheduled. */
  when: string | null;
  whenLocal: string | null;
}
