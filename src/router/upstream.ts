import type { Color } from '../shared/index.ts';
import { SlotCounters } from './slot-counters.ts';
import { COOKIE_ATTRIBUTES, cookieSafe, DEPLOYMENT_COOKIE } from './cookies.ts';
import { UpstreamPool } from './upstream-pool.ts';
import type { Tunnel } from './ws-tunnel.ts';

/** Where one colour of an instance is served: a slot process listening on host:port. */
export interface UpstreamTarget {
  color: Color;
  /** Release version the slot runs; sent to clients as `x-app-version`. */
  version: string;
  port: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /**
   * Sent to clients as `x-deployment-id` when set; with it, the `cutover_dpl` cookie (carrying the
   * version) is set too. A request carrying back either the version or this id is what skew
   * protection recognises.
   */
  deploymentId?: string;
}

/** Pool settings shared by every upstream of one router. */
export interface UpstreamPoolOptions {
  connections: number;
  headersTimeoutMs: number;
}

/** Time a tunnel told to go away gets to finish its close handshake (see ws-tunnel.ts), plus slack. */
const TUNNEL_CLOSE_GRACE_MS = 6000;

function noop(): void {}

/**
 * One registered slot process: its connection pool, its in-flight counter, its traffic counters
 * and the headers its responses carry (all precomputed, so the request path only picks an array).
 * The router flips traffic by swapping which Upstream an instance points at; an Upstream itself
 * never changes target, it is replaced and drained.
 */
export class Upstream {
  readonly color: Color;
  readonly version: string;
  readonly port: number;
  readonly host: string;
  readonly deploymentId: string | undefined;
  readonly pool: UpstreamPool;
  /** Appended to every response: `x-app-version` and, when known, `x-deployment-id`. */
  readonly responseHeaders: readonly string[];
  /** The same plus `x-cutover-reload: 1`, for a client whose deployment id is no longer served. */
  readonly reloadHeaders: readonly string[];
  /** The same as `responseHeaders` plus the sticky cookie pinning a client to this colour. */
  readonly stickyHeaders: readonly string[];
  /** The sticky headers plus `x-cutover-reload: 1`: a newly pinned client whose deployment id is gone. */
  readonly stickyReloadHeaders: readonly string[];
  /**
   * Sticky cookie value this upstream answers to and writes: its version, cookie-encoded. Never the
   * colour: another machine may hold this version in the other colour (see `RoutableSlot`).
   */
  readonly stickyValue: string;
  /** The sticky value of earlier versions (`<color>.<deploymentId>`), still honoured; goes in the next version. */
  readonly legacyStickyValue: string;
  /**
   * The skew id as it appears in the `cutover_dpl` cookie: the version, cookie-encoded ('' when the
   * upstream has no deployment id, which turns skew protection off).
   */
  readonly deploymentCookieValue: string;
  /** `set-cookie` pair refreshing `cutover_dpl` to this version (null when it has no deployment id). */
  readonly deploymentCookieHeaders: readonly string[] | null;
  readonly counters = new SlotCounters();
  /** When the target was registered (ms since the epoch); its counters start there. */
  readonly registeredAt: number;
  /** Requests dispatched and not yet completed, errored or aborted (tunnels included). */
  inFlight = 0;
  /** Set when a drain timed out and the pool was destroyed: aborted requests answer 504. */
  drainAborted = false;
  /** Set once a drain began: streams it cuts end cleanly (see ProxyHandler.onError). */
  draining = false;
  /** Open upgraded connections (WebSockets) on this upstream. */
  readonly tunnels = new Set<Tunnel>();
  #drained: Promise<void> | null = null;
  /** While draining: checked at each release. */
  #onRelease: (() => void) | null = null;
  /** While draining: when the last tunnel must have been told to go away (performance.now()). */
  #tunnelWindowEnd = -1;
  /** After a flip away: when its tunnels start being told to go away (performance.now(); -1: not retired). */
  #retireFrom = -1;
  #retireWindow = 0;

  constructor(
    target: UpstreamTarget,
    options: UpstreamPoolOptions,
    stickyCookie: string,
    registeredAt: number,
  ) {
    this.color = target.color;
    this.version = target.version;
    this.port = target.port;
    this.host = target.host ?? '127.0.0.1';
    this.deploymentId = target.deploymentId;
    this.registeredAt = registeredAt;
    // Streaming responses (SSE, long downloads) may idle for long; the client's own disconnect
    // aborts them, so there is no body timeout.
    this.pool = new UpstreamPool({
      host: this.host,
      port: this.port,
      connections: options.connections,
      headersTimeoutMs: options.headersTimeoutMs,
    });
    const base =
      this.deploymentId === undefined
        ? ['x-app-version', this.version]
        : ['x-app-version', this.version, 'x-deployment-id', this.deploymentId];
    this.responseHeaders = base;
    this.reloadHeaders = [...base, 'x-cutover-reload', '1'];
    this.stickyValue = cookieSafe(this.version);
    this.legacyStickyValue = cookieSafe(`${this.color}.${this.deploymentId ?? ''}`);
    this.stickyHeaders = [...base, 'set-cookie', `${stickyCookie}=${this.stickyValue}${COOKIE_ATTRIBUTES}`];
    this.stickyReloadHeaders = [...this.stickyHeaders, 'x-cutover-reload', '1'];
    this.deploymentCookieValue = this.deploymentId === undefined ? '' : cookieSafe(this.version);
    this.deploymentCookieHeaders =
      this.deploymentId === undefined
        ? null
        : ['set-cookie', `${DEPLOYMENT_COOKIE}=${this.deploymentCookieValue}${COOKIE_ATTRIBUTES}`];
  }

  /** True when `target` describes exactly this upstream (so re-registering it is a no-op). */
  sameAs(target: UpstreamTarget): boolean {
    return (
      target.color === this.color &&
      target.version === this.version &&
      target.port === this.port &&
      (target.host ?? '127.0.0.1') === this.host &&
      target.deploymentId === this.deploymentId
    );
  }

  /** Called exactly once per dispatched request, when it completes, errors or is aborted. */
  release(): void {
    this.inFlight--;
    if (this.#onRelease !== null) this.#onRelease();
  }

  /**
   * Tracks an upgraded connection; one opening on a draining or retired upstream (a client on the
   * previous version during the skew grace) is told to go away on the same schedule.
   */
  addTunnel(tunnel: Tunnel): void {
    this.tunnels.add(tunnel);
    const now = performance.now();
    if (this.#tunnelWindowEnd >= 0) {
      tunnel.scheduleGoingAway(Math.random() * Math.max(0, this.#tunnelWindowEnd - now));
    }
    if (this.#retireFrom >= 0) {
      const from = Math.max(0, this.#retireFrom - now);
      const window = Math.max(0, this.#retireFrom + this.#retireWindow - now - from);
      tunnel.scheduleGoingAway(from + Math.random() * window);
    }
  }

  /**
   * This colour stopped serving (a flip away from it): each of its WebSockets gets a 1001 at a
   * random moment within `windowMs`, starting `delayMs` from now (the skew grace after a forward
   * flip, 0 after a rollback). Draining the upstream later can only bring a close forward.
   */
  retireTunnels(delayMs: number, windowMs: number): void {
    this.#retireFrom = performance.now() + delayMs;
    this.#retireWindow = windowMs;
    for (const tunnel of this.tunnels) tunnel.scheduleGoingAway(delayMs + Math.random() * windowMs);
  }

  /** This colour serves again (a flip back to it within the grace): its WebSockets stay. */
  keepTunnels(): void {
    if (this.#retireFrom < 0 || this.#tunnelWindowEnd >= 0) return;
    this.#retireFrom = -1;
    for (const tunnel of this.tunnels) tunnel.cancelGoingAway();
  }

  /**
   * Waits for in-flight requests to finish, then closes the pool. After `timeoutMs`, HTTP
   * requests still running are cut (see `destroy`). Each WebSocket is told to go away (close
   * 1001) at a random moment within `tunnelWindowMs`, so clients reconnect gradually; tunnels
   * that have not closed a few seconds after the window are cut. Idempotent: later calls share
   * the first drain. Never rejects.
   */
  drain(timeoutMs: number, tunnelWindowMs = 0): Promise<void> {
    this.#drained ??= this.#drain(timeoutMs, tunnelWindowMs);
    return this.#drained;
  }

  /**
   * Cuts everything now: the pool is destroyed (requests still waiting for response headers
   * answer 504, the others lose their connection) and tunnels are destroyed. Never rejects.
   */
  async destroy(): Promise<void> {
    this.drainAborted = true;
    for (const tunnel of this.tunnels) tunnel.destroy();
    await this.pool.destroy().catch(noop);
  }

  async #drain(timeoutMs: number, tunnelWindowMs: number): Promise<void> {
    const started = performance.now();
    this.draining = true;
    this.#tunnelWindowEnd = started + tunnelWindowMs;
    for (const tunnel of this.tunnels) tunnel.scheduleGoingAway(Math.random() * tunnelWindowMs);
    if (!this.drainAborted && this.inFlight > this.tunnels.size) {
      const timedOut = await this.#until(() => this.inFlight <= this.tunnels.size, timeoutMs);
      // Only HTTP requests are cut here; upgraded sockets were detached from the pool.
      if (timedOut) {
        this.drainAborted = true;
        await this.pool.destroy().catch(noop);
      }
    }
    if (this.inFlight > 0) {
      const left = Math.max(0, started + tunnelWindowMs - performance.now()) + TUNNEL_CLOSE_GRACE_MS;
      if (await this.#until(() => this.inFlight <= 0, left)) {
        for (const tunnel of this.tunnels) tunnel.destroy();
      }
    }
    if (this.drainAborted) await this.destroy();
    else await this.pool.close().catch(noop);
  }

  /** Resolves false once `done()` holds (checked at each release), true after `ms`. */
  #until(done: () => boolean, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#onRelease = null;
        resolve(true);
      }, ms);
      timer.unref();
      this.#onRelease = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.#onRelease = null;
        resolve(false);
      };
    });
  }
}
