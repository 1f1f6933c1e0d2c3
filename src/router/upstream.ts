import type { Duplex } from 'node:stream';
import { Pool } from 'undici';
import type { Color } from '../shared/index.ts';

/** Where one colour of an instance is served: a slot process listening on host:port. */
export interface UpstreamTarget {
  color: Color;
  /** Release version the slot runs; sent to clients as `x-app-version`. */
  version: string;
  port: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Sent to clients as `x-deployment-id` when set. */
  deploymentId?: string;
}

/** Pool settings shared by every upstream of one router. */
export interface UpstreamPoolOptions {
  connections: number;
  headersTimeoutMs: number;
}

/**
 * One registered slot process: its connection pool, its in-flight counter and the headers every
 * response it serves carries. The router flips traffic by swapping which Upstream an instance
 * points at; an Upstream itself never changes target, it is replaced and drained.
 */
export class Upstream {
  readonly color: Color;
  readonly version: string;
  readonly port: number;
  readonly host: string;
  readonly deploymentId: string | undefined;
  readonly pool: Pool;
  /** Appended to every response: `x-app-version` and, when known, `x-deployment-id`. */
  readonly responseHeaders: readonly string[];
  /** Requests dispatched and not yet completed, errored or aborted (tunnels included). */
  inFlight = 0;
  /** Set when a drain timed out and the pool was destroyed: aborted requests answer 504. */
  drainAborted = false;
  /** Upgraded (WebSocket) connections; a drain that times out cuts them. */
  readonly tunnels = new Set<Duplex>();
  #drained: Promise<void> | null = null;
  #onIdle: (() => void) | null = null;

  constructor(target: UpstreamTarget, options: UpstreamPoolOptions) {
    this.color = target.color;
    this.version = target.version;
    this.port = target.port;
    this.host = target.host ?? '127.0.0.1';
    this.deploymentId = target.deploymentId;
    const origin = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
    this.pool = new Pool(origin, {
      connections: options.connections,
      headersTimeout: options.headersTimeoutMs,
      // Streaming responses (SSE, long downloads) may idle for long; the client's own
      // disconnect aborts them, so no body timeout here.
      bodyTimeout: 0,
    });
    this.responseHeaders =
      this.deploymentId === undefined
        ? ['x-app-version', this.version]
        : ['x-app-version', this.version, 'x-deployment-id', this.deploymentId];
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
    if (--this.inFlight === 0 && this.#onIdle !== null) this.#onIdle();
  }

  /**
   * Waits for in-flight requests to finish, then closes the pool. After `timeoutMs`, whatever is
   * still running is cut (see `destroy`). Idempotent: later calls share the first drain.
   * Never rejects.
   */
  drain(timeoutMs: number): Promise<void> {
    this.#drained ??= this.#drain(timeoutMs);
    return this.#drained;
  }

  /**
   * Cuts everything now: the pool is destroyed (requests still waiting for response headers
   * answer 504, the others lose their connection) and tunnels are closed. Never rejects.
   */
  async destroy(): Promise<void> {
    this.drainAborted = true;
    for (const socket of this.tunnels) socket.destroy();
    await this.pool.destroy().catch(() => undefined);
  }

  async #drain(timeoutMs: number): Promise<void> {
    if (this.inFlight > 0 && !this.drainAborted) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        this.#onIdle = () => resolve(false);
        timer = setTimeout(() => resolve(true), timeoutMs);
        timer.unref();
      });
      clearTimeout(timer);
      this.#onIdle = null;
      if (timedOut) return this.destroy();
    }
    if (this.drainAborted) return this.destroy();
    await this.pool.close().catch(() => undefined);
  }
}
