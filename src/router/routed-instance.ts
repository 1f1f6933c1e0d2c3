import type { Color } from '../shared/index.ts';
import { stickyCookieName } from './cookies.ts';
import { HoldQueue } from './held-requests.ts';
import type { HeldRequest } from './held-requests.ts';
import type { MaintenanceResponse } from './maintenance.ts';
import type { RoutableInstance } from './route-decision.ts';
import type { RouterInstanceState, RouterSlotState } from './router-types.ts';
import type { Upstream } from './upstream.ts';

/** Everything the router keeps about one instance. The request path reads it; admin calls change it. */
export class RoutedInstance implements RoutableInstance<Upstream> {
  readonly name: string;
  readonly stickyCookie: string;
  hosts: string[] = [];
  /** What the hot path reads: swapping this reference is the cutover. */
  active: Upstream | null = null;
  blue: Upstream | null = null;
  green: Upstream | null = null;
  shiftTo: Upstream | null = null;
  shiftWeight = 0;
  shiftCredit = 0;
  previous: Upstream | null = null;
  flippedAt = 0;
  /** True once `active` has changed colour at least once (so `flippedAt` means something). */
  flipped = false;
  lastActive: Color | null = null;
  previewDigest: Buffer | null = null;
  maintenance: MaintenanceResponse | null = null;
  readonly held: HoldQueue;

  constructor(name: string, pauseTimeoutMs: number, expire: (held: HeldRequest) => void) {
    this.name = name;
    this.stickyCookie = stickyCookieName(name);
    this.held = new HoldQueue(pauseTimeoutMs, expire);
  }

  slot(color: Color): Upstream | null {
    return color === 'blue' ? this.blue : this.green;
  }

  /** Share of new clients each colour gets now, in percent. */
  weights(): Record<Color, number> {
    const out: Record<Color, number> = { blue: 0, green: 0 };
    const active = this.active;
    if (active === null) return out;
    if (this.shiftTo === null) {
      out[active.color] = 100;
      return out;
    }
    out[this.shiftTo.color] = this.shiftWeight;
    out[active.color] = 100 - this.shiftWeight;
    return out;
  }

  /** True when `upstream` receives new requests (active, or being shifted to). */
  serving(upstream: Upstream): boolean {
    return upstream === this.active || upstream === this.shiftTo;
  }

  /**
   * Makes `upstream` the active colour (or none) and ends any shift; records the flip when the
   * colour changes, so skew protection can serve the colour that was active before. A `rollback`
   * records no previous colour (M3): the release rolled back from must not be served by its id.
   */
  setActive(upstream: Upstream | null, now: number, rollback = false): void {
    const before = this.active;
    this.shiftTo = null;
    this.shiftWeight = 0;
    this.shiftCredit = 0;
    this.active = upstream;
    if (before !== null) this.lastActive = before.color;
    if (upstream !== null && before !== null && before !== upstream && before.color !== upstream.color) {
      this.previous = before;
      this.flippedAt = now;
      this.flipped = true;
    } else if (upstream !== null && before === null && this.lastActive !== upstream.color) {
      // Activation after a pause or the first activation: a change of colour all the same.
      this.previous = this.lastActive === null ? null : this.slot(this.lastActive);
      this.flippedAt = now;
      this.flipped = true;
    }
    if (rollback) this.previous = null;
  }

  /** The instance as `Router.state()` reports it. */
  describe(): RouterInstanceState {
    const slots: RouterSlotState[] = [];
    for (const u of [this.blue, this.green]) {
      if (u === null) continue;
      slots.push({
        color: u.color,
        version: u.version,
        port: u.port,
        deploymentId: u.deploymentId ?? null,
        inFlight: u.inFlight,
      });
    }
    return {
      name: this.name,
      hosts: [...this.hosts],
      active: this.active?.color ?? null,
      weights: this.weights(),
      shiftingTo: this.shiftTo?.color ?? null,
      flippedAt: this.flipped ? new Date(this.flippedAt).toISOString() : null,
      preview: this.previewDigest !== null,
      maintenance: this.maintenance !== null,
      held: this.held.waiting,
      slots,
    };
  }
}
