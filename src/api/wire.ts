// The answers of the API as types: what a client (the CLI) reads. They are inferred from the
// response schemas that also write the OpenAPI document and map each answer to the wire (`mount`),
// so the document, these types and the CLI agree; `wire.test.ts` checks that each service's
// answer fits its schema. Times are ISO 8601 UTC strings here (the services keep milliseconds),
// and lists are `ListOf<T>`. The CLI imports these and nothing from `store/`: a change to a
// database record does not silently change what the CLI thinks the API returns.
import type { z } from 'zod';
import type { RuntimeInstance } from '../deploy/index.ts';
import type {
  auditEntrySchema,
  chainCheckSchema,
  channelDetailSchema,
  channelSchema,
  channelViewSchema,
  deploymentSchema,
  haltViewSchema,
  holdViewSchema,
  instanceSchema,
  instanceStatusSchema,
  instanceViewSchema,
  moveSchema,
  planEntrySchema,
  policySchema,
  problemSchema,
  promotionCheckSchema,
  promotionResultSchema,
  releaseSchema,
  tokenSchema,
  createdJoinTokenSchema,
  joinTokenSchema,
  machineSchema,
  machineViewSchema,
  machineWithCredentialSchema,
} from './schemas.ts';
import type { appConfigChangeSchema, appConfigDiffSchema, appConfigViewSchema, rotationSchema } from './routes-app-config.ts';
import type { edgeCertificateListSchema, edgeCertificateRemovedSchema, edgeCertificateSetSchema } from './routes-tls.ts';

/** Every list answer: a page of items, and the cursor of the next page (null on the last). */
export interface ListOf<T> {
  items: T[];
  /** Pass back as `cursor`; null on the last page. */
  next: string | null;
}

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
/** A machine with its instances and drift (`GET /api/machines`, `GET /api/machines/{name}`). */
export type MachinePlacementView = z.infer<typeof machineViewSchema>;
/** A machine with a new credential (join, rotate-credential): the credential shown once. */
export type MachineWithCredentialView = z.infer<typeof machineWithCredentialSchema>;
/** A token's role. */
export type RoleName = TokenInfo['role'];

/** An instance with its resolved target (`GET /api/instances`, `PATCH`, `PUT …/target`). */
export type InstanceSummary = z.infer<typeof instanceViewSchema>;
/** An instance with what its agent reports (`GET /api/instances/{name}`, `GET /api/status`). */
export type InstanceStatus = Omit<z.infer<typeof instanceStatusSchema>, 'runtime'> & { runtime: RuntimeInstance | null };
/** A channel with its pointers (`GET /api/channels`). */
export type ChannelSummary = z.infer<typeof channelViewSchema>;
/** Whether a release may be promoted to a channel now (`GET /api/channels/{name}/check`). */
export type PromotionCheckView = z.infer<typeof promotionCheckSchema>;
/** The answer of `POST /api/channels/{name}/promote`. */
export type PromotionResultView = z.infer<typeof promotionResultSchema>;
/** A hold on an instance. */
export type HoldView = z.infer<typeof holdViewSchema>;
/** A version's halted rollout. */
export type HaltView = z.infer<typeof haltViewSchema>;
/** One entry of `GET /api/fleet/plan` and the answer of `GET /api/instances/{name}/why`. */
export type PlanEntry = z.infer<typeof planEntrySchema>;

// Answers without times, whose schemas only sketch them: the services' own result types, exported
// from here so clients still import them from `api/` only.
export type { BulkTargetResult, TargetChange } from '../control/index.ts';
export type { AgentCheck, DeletedInstance, PreviewAccess, PruneResult, RuntimeInstance } from '../deploy/index.ts';

/** An instance's app config as any role sees it (`GET /api/instances/{name}/app-config`): secrets by fingerprint only. */
export type AppConfigView = z.infer<typeof appConfigViewSchema>;
/** What deploying the current app config would change (`GET /api/instances/{name}/app-config/diff`). */
export type AppConfigDiffView = z.infer<typeof appConfigDiffSchema>;
/** The answer to an app-config or secret change: the version it made, before → after (a secret as `secret <fingerprint>`). */
export type AppConfigChangeAnswer = z.infer<typeof appConfigChangeSchema>;
/** The answer of `POST /api/secrets/rotate-key`. */
export type RotationView = z.infer<typeof rotationSchema>;
export type EdgeCertificateListView = z.output<typeof edgeCertificateListSchema>;
export type EdgeCertificateSetView = z.output<typeof edgeCertificateSetSchema>;
export type EdgeCertificateRemovedView = z.output<typeof edgeCertificateRemovedSchema>;
