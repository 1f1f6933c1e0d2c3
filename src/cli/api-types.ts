// The shapes of the API answers the CLI reads, as `GET /api/openapi.json` describes them. The CLI
// may import only types from `store` and `api` (see docs/architecture.md), so the control plane's
// views are restated here from the published response schemas.
import type { InstanceStatus } from '../api/index.ts';
import type { ChannelMove, ChannelPointer, ChannelRecord, InstanceTarget } from '../store/index.ts';

/** An instance with its resolved target (`GET /api/instances`). */
export type InstanceView = Omit<InstanceStatus, 'runtime' | 'runtimeError' | 'lastDeployment'>;

/** `GET /api/channels`: a channel and where it points, per app. */
export interface ChannelView extends ChannelRecord {
  pointers: ChannelPointer[];
}

/** `GET /api/channels/{name}`: with its history. */
export interface ChannelDetail extends ChannelView {
  history: ChannelMove[];
}

/** One failed promotion rule. */
export interface PolicyFailure {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** `GET /api/channels/{name}/check`. */
export interface PromotionCheck {
  app: string;
  version: string;
  channel: string;
  current: string | null;
  verdict: { allowed: boolean; failures: PolicyFailure[]; eligibleAt?: number };
}

/** `POST /api/channels/{name}/promote`. */
export interface PromotionResult extends PromotionCheck {
  changed: boolean;
  forced: boolean;
  move: ChannelMove | null;
}

/** One instance a bulk retarget changes. */
export interface TargetChange {
  name: string;
  app: string;
  environment: string;
  tenant: string | null;
  before: InstanceTarget | null;
  after: InstanceTarget | null;
}

/** `POST /api/instances/target`. */
export interface BulkTargetResult {
  selector: string;
  matched: number;
  changes: TargetChange[];
  /** Fingerprint of what the dry run saw: sent back as `confirm`. */
  selection: string;
  applied: boolean;
}
