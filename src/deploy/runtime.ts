import type { Readable } from 'node:stream';
import type { Color, FlipReason, HealthSpec } from '../shared/index.ts';

/**
 * The runtime port: where slots run and traffic is switched. Today it is the agent on a host
 * (`src/agent/agent-client.ts`); a Kubernetes runtime (slot = Deployment, flip = Service selector)
 * would implement the same port.
 */
export interface Runtime {
  /** Makes the release artifact available where slots start; `open` streams it from the control plane. */
  ensureArtifact(digest: string, open: () => Readable): Promise<void>;
  /** Creates or updates the route for an instance's host names. */
  ensureInstance(name: string, hosts: string[]): Promise<void>;
  startSlot(spec: RuntimeSlotSpec): Promise<{ port: number; pid?: number }>;
  /** Resolves when the slot is healthy, or with why it is not by `timeoutMs`. Never throws for an unhealthy app. */
  waitHealthy(instance: string, color: Color, timeoutMs: number): Promise<HealthResult>;
  /**
   * The atomic switch: new requests go to `color`; in-flight ones on the other colour finish.
   * With `expectVersion`, the runtime refuses (SLOT_NOT_READY, changing nothing) unless that slot
   * runs this version and is healthy at the moment of the switch.
   * `reason` (default `forward`): a `rollback` (manual, automatic, or undoing a weighted step)
   * ends skew protection for the colour left and closes its WebSockets at once (see `FlipReason`).
   */
  flip(instance: string, color: Color, expectVersion?: string, reason?: FlipReason): Promise<{ flippedAt: number }>;
  /**
   * A weighted step: `percent` (1–99) of new clients go to `color`, the rest stay on the active
   * colour; a client keeps the colour it got first (sticky cookie). The active colour does not
   * change, so an agent restart or `flip(instance, activeColor)` puts everyone back on it.
   * `flip(instance, color)` completes the shift. Throws SLOT_NOT_FOUND when `color` has no slot.
   */
  shift(instance: string, color: Color, percent: number): Promise<{ shiftedAt: number }>;
  /**
   * Sets the token that reaches the idle slot before the flip (header `x-cutover-preview` or the
   * `/.well-known/cutover/preview?token=` cookie), or clears it with null. Kept across agent restarts.
   */
  setPreview(instance: string, token: string | null): Promise<void>;
  /** Maintenance on (every request of the instance gets the page with a 503) or off (null). Kept across agent restarts. */
  setMaintenance(instance: string, maintenance: RuntimeMaintenance | null): Promise<void>;
  /** Drains the slot's in-flight requests, then stops its process (SIGTERM, grace, SIGKILL). */
  stopSlot(instance: string, color: Color): Promise<void>;
  /** Forgets an instance: its routes go (in-flight requests drain), then both slots stop. Nothing if unknown. */
  removeInstance(name: string): Promise<void>;
  /** The artifacts the runtime holds, and whether a slot uses each (`cutover prune`). */
  listArtifacts(): Promise<RuntimeArtifact[]>;
  /** Deletes an artifact no slot uses (SLOT_BUSY otherwise); a later deploy fetches it again by digest. */
  deleteArtifact(digest: string): Promise<void>;
  /** What actually runs for an instance, or undefined if the runtime does not know it. */
  describe(instance: string): Promise<RuntimeInstance | undefined>;
  /** The router's per-colour counters of an instance (since each colour was registered), or undefined if unknown. */
  stats(instance: string): Promise<RuntimeInstanceStats | undefined>;
}

export interface RuntimeArtifact {
  digest: string;
  size: number;
  /** A slot of the runtime runs it or keeps it warm. */
  inUse: boolean;
}

export interface RuntimeSlotSpec {
  instance: string;
  color: Color;
  version: string;
  digest: string;
  start: string;
  env: Record<string, string>;
  health: HealthSpec;
  stopTimeoutMs: number;
  deploymentId: string;
  /** The app's drain endpoint, polled while the slot stops after its HTTP drain (see the manifest's `drain`). */
  drain?: { path: string; intervalMs?: number };
}

export interface RuntimeMaintenance {
  /** A complete HTML page; default: a short neutral one. */
  html?: string;
  /** Sent as `Retry-After`; default 30. */
  retryAfterSeconds?: number;
}

export interface HealthCheckSeen {
  ok: boolean;
  status?: number;
  error?: string;
  durationMs?: number;
}

export type HealthResult =
  | { ok: true; healthySince: number }
  | {
      ok: false;
      reason: 'exited' | 'timeout' | 'unhealthy' | 'stopped';
      message: string;
      lastCheck?: HealthCheckSeen;
      logTail: string[];
    };

export interface RuntimeSlot {
  color: Color;
  version: string;
  /**
   * The deployment that started the slot. Recovery trusts a slot only when both its version and
   * this id match (a colour is reused by every other deployment). Absent from agents before it was reported.
   */
  deploymentId?: string;
  /** The supervisor's state: starting, healthy, unhealthy, restarting, failed, exited, stopping, stopped. */
  state: string;
  /** Crash restarts since the slot started. */
  restarts?: number;
  /** While the slot stops: what the app's drain endpoint said last ("3 jobs still running"). */
  drain?: { done: boolean; pending?: number; message?: string; error?: string };
  port?: number;
  pid?: number;
}

export interface RuntimeInstance {
  name: string;
  hosts: string[];
  active: Color | null;
  slots: RuntimeSlot[];
  /** While a weighted step is in progress: the colour being shifted to and its share of new clients. */
  shift?: { color: Color; percent: number };
  /** True while a preview token is set. */
  preview?: boolean;
  /** True while the instance answers with its maintenance page. */
  maintenance?: boolean;
  /**
   * `uid`: the instance's slots run as a uid of their own; `none`: as the agent's uid (the agent
   * is not root, or a slot was adopted from an older agent). Absent from older agents.
   */
  isolation?: 'uid' | 'none';
}

/** Counters of one registered colour, as the router keeps them (see `src/router`'s `stats()`). */
export interface RuntimeColorStats {
  color: Color;
  version: string;
  deploymentId: string | null;
  /** When the colour was registered (ISO 8601): the counters start there. */
  since: string;
  requests: number;
  /** Responses by class `1xx`…`5xx`, and `failed`: the 502/504 the router answered itself. */
  responses: Record<string, number>;
  /** Non-cumulative counts per upper bound (ms), then the overflow. */
  latency: { bucketsMs: number[]; counts: number[] };
}

export interface RuntimeInstanceStats {
  instance: string;
  at: string;
  active: Color | null;
  colors: RuntimeColorStats[];
}
