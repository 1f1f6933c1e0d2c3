export { apiRoutes, createApi } from './api.ts';
export type { ApiDeps } from './api-deps.ts';
export type { InstanceStatus } from './instance-status.ts';
// The answers' shapes, for clients in this repository (the CLI) that may import only types from here.
export type { BulkTargetResult, ChannelView, InstanceView, PromotionCheck, PromotionResult, TargetChange } from '../control/index.ts';
export type { InstancePlan } from '../fleet/index.ts';
