/**
 * A token's role. `viewer` < `deployer` < `admin` are ranked (viewer reads, deployer ships, admin does
 * everything); `publisher` (for CI) stands apart: it reads, publishes, and promotes only to its token's channels.
 */
export type Role = 'viewer' | 'deployer' | 'admin' | 'publisher';

/** A slot's colour. Every instance has exactly two slots. */
export type Color = 'blue' | 'green';

/**
 * Why traffic moves to a colour: `forward` (a deployment's cutover, a restore) keeps the colour it
 * left for skew protection and closes its WebSockets after `skewGrace`; `rollback` (manual or
 * automatic) makes it unreachable at once and closes its WebSockets now.
 */
export type FlipReason = 'forward' | 'rollback';

export const COLORS: readonly Color[] = ['blue', 'green'];

export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

export function isColor(value: unknown): value is Color {
  return value === 'blue' || value === 'green';
}

/** How the supervisor decides a slot is healthy. All durations in milliseconds. */
export interface HealthSpec {
  /** HTTP path probed with GET; any 2xx/3xx answer counts as a success. */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before the slot counts as healthy. */
  healthyThreshold: number;
  /** Consecutive failures (after it was healthy) before it counts as unhealthy. */
  unhealthyThreshold: number;
}
