// The shapes of the API answers the CLI reads, as `GET /api/openapi.json` describes them. The CLI
// may import only types from `store` and `api` (see docs/architecture.md); `api` re-exports the
// control plane's views for it.
import type { ChannelView, InstancePlan } from '../api/index.ts';
import type { ChannelMove } from '../store/index.ts';

export type { BulkTargetResult, ChannelView, InstanceView, PromotionCheck, PromotionResult, TargetChange } from '../api/index.ts';

/** `GET /api/channels/{name}`: with its history. */
export interface ChannelDetail extends ChannelView {
  history: ChannelMove[];
}

/** One entry of `GET /api/fleet/plan` and the answer of `GET /api/instances/{name}/why`. */
export interface PlanEntry extends InstancePlan {
  why: string;
  /** ISO 8601 UTC; null when not scheduled. */
  when: string | null;
  whenLocal: string | null;
}
