import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CutoverError, invalidInput, isColor, listen } from '../shared/index.ts';
import type { Color, FieldIssue } from '../shared/index.ts';
import { noActiveSlot, notFound, rawErrorResponse, sendError } from './error-response.ts';
import { normaliseHost, RequestScan, scanRequestHeaders } from './headers.ts';
import { onResponseClose, ProxyHandler, ProxyResponse } from './proxy-handler.ts';
import { UpgradeHandler } from './upgrade-handler.ts';
import { Upstream } from './upstream.ts';
import type { UpstreamTarget } from './upstream.ts';

/** Tuning of one router. */
export interface RouterOptions {
  /** How long an upstream may take to send response headers before the client gets 504. Default 60000. */
  upstreamTimeoutMs?: number;
  /** How long `close()`, `removeInstance()` and a replaced slot wait for in-flight requests. Default 30000. */
  drainTimeoutMs?: number;
  /** Maximum connections kept to each upstream process. Default 128. */
  connectionsPerUpstream?: number;
}

/** One registered colour of an instance, as `state()` reports it. */
export interface RouterSlotState {
  color: Color;
  version: string;
  port: number;
  /** Requests (and WebSocket tunnels) currently being served by this colour. */
  inFlight: number;
}

/** One instance, as `state()` reports it. */
export interface RouterInstanceState {
  name: string;
  hosts: string[];
  active: Color | null;
  slots: RouterSlotState[];
}

/**
 * The data plane's HTTP/1.1 reverse proxy: Host → instance → active colour → slot process.
 * Flipping colours is a single reference switch; requests already in flight finish where they
 * started. Every proxied response carries `x-app-version` (and `x-deployment-id`).
 */
export interface Router {
  /** Starts listening; resolves with the bound port (pass 0 for an ephemeral one). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (bounded by `drainTimeoutMs`), closes keep-alive sockets and every pool. */
  close(): Promise<void>;
  /** Creates or updates an instance and replaces its host list. Throws `HOST_IN_USE` if another instance serves one of the hosts. */
  setInstance(name: string, hosts: string[]): void;
  /** Stops routing the instance's hosts, then drains and closes its upstreams. Unknown names are ignored. */
  removeInstance(name: string): Promise<void>;
  /**
   * Registers the upstream for a colour (it receives traffic only once activated). Replacing a
   * target drains the old pool in the background; if that colour is active, the new target takes
   * over at once. Registering the identical target again changes nothing.
   */
  setSlot(name: string, target: UpstreamTarget): void;
  /** The flip: the next request goes to `color`; requests in flight elsewhere finish normally. */
  activate(name: string, color: Color): void;
  /** No active colour: new requests get 503 with `retry-after: 1`. */
  deactivate(name: string): void;
  /**
   * Unregisters a non-active colour and resolves once its in-flight requests finished (after
   * `timeoutMs` the rest are cut; those without response headers get 504) and its pool closed.
   * Rejects with `SLOT_ACTIVE` for the active colour, `SLOT_NOT_FOUND` for an empty one.
   */
  drainSlot(name: string, color: Color, timeoutMs?: number): Promise<void>;
  state(): RouterInstanceState[];
}

class InstanceRecord {
  readonly name: string;
  hosts: string[] = [];
  /** What the hot path reads: swapping this reference is the cutover. */
  active: Upstream | null = null;
  blue: Upstream | null = null;
  green: Upstream | null = null;

  constructor(name: string) {
    this.name = name;
  }
}

// Bounds the raw-Host cache so a flood of random Host headers cannot grow memory.
const ROUTE_CACHE_LIMIT = 4096;
// Node's server.close() only closes connections idle at that instant; keep sweeping while closing
// so keep-alive connections are closed as soon as their last response is done.
const CLOSE_SWEEP_MS = 20;
// Header values reach clients verbatim: no control characters (CR/LF would split the response).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function noop(): void {}

function positiveInteger(
  value: number | undefined,
  fallback: number,
  path: string,
  issues: FieldIssue[],
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    issues.push({ path, message: `must be a positive integer, got ${String(value)}` });
  return value;
}

function checkTarget(target: UpstreamTarget): void {
  const issues: FieldIssue[] = [];
  if (!isColor(target.color)) issues.push({ path: 'color', message: 'must be "blue" or "green"' });
  if (typeof target.version !== 'string' || target.version === '' || !HEADER_VALUE.test(target.version)) {
    issues.push({ path: 'version', message: 'must be a non-empty string without control characters' });
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    issues.push({ path: 'port', message: 'must be an integer from 1 to 65535' });
  }
  if (target.host !== undefined && (typeof target.host !== 'string' || target.host === '')) {
    issues.push({ path: 'host', message: 'must be a non-empty string when set' });
  }
  if (
    target.deploymentId !== undefined &&
    (typeof target.deploymentId !== 'string' || !HEADER_VALUE.test(target.deploymentId))
  ) {
    issues.push({ path: 'deploymentId', message: 'must be a string without control characters when set' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'upstream target', issues);
}

class HttpRouter implements Router {
  readonly #server: Server<typeof IncomingMessage, typeof ProxyResponse>;
  readonly #upstreamTimeoutMs: number;
  readonly #drainTimeoutMs: number;
  readonly #connections: number;
  readonly #instances = new Map<string, InstanceRecord>();
  /** Normalised host → instance; the source of truth. */
  readonly #hosts = new Map<string, InstanceRecord>();
  /** Raw Host header → instance (null: none). Cleared whenever host ownership changes. */
  readonly #routes = new Map<string, InstanceRecord | null>();
  /** Upstreams unregistered and still draining; `close()` cuts them if it runs out of time. */
  readonly #retiring = new Set<Upstream>();
  /** Reused by every request: the request handler is synchronous, so it is never shared. */
  readonly #scan = new RequestScan();
  #closed: Promise<void> | null = null;

  constructor(options: RouterOptions) {
    const issues: FieldIssue[] = [];
    this.#upstreamTimeoutMs = positiveInteger(options.upstreamTimeoutMs, 60_000, 'upstreamTimeoutMs', issues);
    this.#drainTimeoutMs = positiveInteger(options.drainTimeoutMs, 30_000, 'drainTimeoutMs', issues);
    this.#connections = positiveInteger(
      options.connectionsPerUpstream,
      128,
      'connectionsPerUpstream',
      issues,
    );
    if (issues.length > 0) throw invalidInput('CONFIG_INVALID', 'router options', issues);
    this.#server = createServer<typeof IncomingMessage, typeof ProxyResponse>(
      { ServerResponse: ProxyResponse },
      this.#onRequest,
    );
    this.#server.on('upgrade', this.#onUpgrade);
    // After listen, the server only emits 'error' for a failed accept (EMFILE…); Node keeps
    // accepting, and an unhandled 'error' would crash the data plane, so it is absorbed here.
    this.#server.on('error', noop);
  }

  #route(rawHost: string): InstanceRecord | null {
    let instance = this.#routes.get(rawHost);
    if (instance === undefined) {
      instance = this.#hosts.get(normaliseHost(rawHost)) ?? null;
      if (this.#routes.size >= ROUTE_CACHE_LIMIT) this.#routes.clear();
      this.#routes.set(rawHost, instance);
    }
    return instance;
  }

  readonly #onRequest = (req: IncomingMessage, res: ProxyResponse): void => {
    const scan = this.#scan;
    const headers = scanRequestHeaders(req.rawHeaders, req.socket.remoteAddress, scan);
    if (this.#closed !== null) res.shouldKeepAlive = false;
    const instance = this.#route(scan.host);
    if (instance === null) return sendError(res, notFound(normaliseHost(scan.host)));
    const upstream = instance.active;
    if (upstream === null) return sendError(res, noActiveSlot(instance.name));
    const opts = {
      path: req.url as string,
      method: req.method as string,
      headers,
      body: scan.hasBody ? req : null,
    };
    const handler = new ProxyHandler(upstream, res, opts);
    res.proxy = handler;
    res.on('close', onResponseClose);
    upstream.inFlight++;
    upstream.pool.dispatch(opts, handler);
  };

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const scan = this.#scan;
    const headers = scanRequestHeaders(req.rawHeaders, req.socket.remoteAddress, scan);
    const instance = this.#route(scan.host);
    const upstream = instance === null ? null : instance.active;
    if (upstream === null) {
      const error = instance === null ? notFound(normaliseHost(scan.host)) : noActiveSlot(instance.name);
      socket.on('error', noop);
      socket.end(rawErrorResponse(error), 'latin1');
      return;
    }
    const handler = new UpgradeHandler(upstream, socket, head);
    upstream.inFlight++;
    upstream.pool.dispatch(
      {
        path: req.url as string,
        method: req.method as string,
        headers,
        body: null,
        upgrade: scan.upgrade || 'websocket',
      },
      handler,
    );
  };

  listen(port: number, host?: string): Promise<number> {
    return listen(this.#server, port, host);
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), CLOSE_SWEEP_MS);
    sweep.unref();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      stopped.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.#drainTimeoutMs);
        timer.unref();
      }),
    ]);
    clearInterval(sweep);
    clearTimeout(timer);
    const upstreams = [...this.#retiring];
    for (const instance of this.#instances.values()) {
      if (instance.blue !== null) upstreams.push(instance.blue);
      if (instance.green !== null) upstreams.push(instance.green);
    }
    if (timedOut) {
      server.closeAllConnections();
      await Promise.all(upstreams.map((u) => u.destroy()));
      await stopped;
    } else {
      // Every client connection is gone, so nothing is in flight any more: this only closes pools.
      await Promise.all(upstreams.map((u) => u.drain(0)));
    }
  }

  #instance(name: string): InstanceRecord {
    const instance = this.#instances.get(name);
    if (instance === undefined) {
      throw new CutoverError(
        'INSTANCE_NOT_FOUND',
        `the router has no instance "${name}"; register it with setInstance first`,
        {
          details: { instance: name },
        },
      );
    }
    return instance;
  }

  #retire(upstream: Upstream, timeoutMs: number): Promise<void> {
    this.#retiring.add(upstream);
    return upstream.drain(timeoutMs).finally(() => this.#retiring.delete(upstream));
  }

  setInstance(name: string, hosts: string[]): void {
    const issues: FieldIssue[] = [];
    if (typeof name !== 'string' || name === '')
      issues.push({ path: 'name', message: 'must be a non-empty string' });
    const normalised = new Set<string>();
    hosts.forEach((host, i) => {
      const h = typeof host === 'string' ? normaliseHost(host) : '';
      if (h === '') issues.push({ path: `hosts[${i}]`, message: 'must be a non-empty host name' });
      else normalised.add(h);
    });
    if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', `router instance "${name}"`, issues);
    for (const host of normalised) {
      const owner = this.#hosts.get(host);
      if (owner !== undefined && owner.name !== name) {
        throw new CutoverError(
          'HOST_IN_USE',
          `host "${host}" is already served by instance "${owner.name}"; remove it there first`,
          {
            details: { host, instance: owner.name },
          },
        );
      }
    }
    let instance = this.#instances.get(name);
    if (instance === undefined) {
      instance = new InstanceRecord(name);
      this.#instances.set(name, instance);
    }
    for (const host of instance.hosts) this.#hosts.delete(host);
    instance.hosts = [...normalised];
    for (const host of instance.hosts) this.#hosts.set(host, instance);
    this.#routes.clear();
  }

  async removeInstance(name: string): Promise<void> {
    const instance = this.#instances.get(name);
    if (instance === undefined) return;
    this.#instances.delete(name);
    for (const host of instance.hosts) this.#hosts.delete(host);
    this.#routes.clear();
    instance.active = null;
    const drains: Promise<void>[] = [];
    if (instance.blue !== null) drains.push(this.#retire(instance.blue, this.#drainTimeoutMs));
    if (instance.green !== null) drains.push(this.#retire(instance.green, this.#drainTimeoutMs));
    instance.blue = null;
    instance.green = null;
    await Promise.all(drains);
  }

  setSlot(name: string, target: UpstreamTarget): void {
    const instance = this.#instance(name);
    checkTarget(target);
    const previous = instance[target.color];
    if (previous !== null && previous.sameAs(target)) return;
    const upstream = new Upstream(target, {
      connections: this.#connections,
      headersTimeoutMs: this.#upstreamTimeoutMs,
    });
    instance[target.color] = upstream;
    if (previous === null) return;
    if (instance.active === previous) instance.active = upstream;
    void this.#retire(previous, this.#drainTimeoutMs);
  }

  activate(name: string, color: Color): void {
    const instance = this.#instance(name);
    const upstream = isColor(color) ? instance[color] : null;
    if (upstream === null) {
      throw new CutoverError(
        'SLOT_NOT_FOUND',
        `instance "${name}" has no ${String(color)} upstream; register it with setSlot before activating`,
        {
          details: { instance: name, color },
        },
      );
    }
    instance.active = upstream;
  }

  deactivate(name: string): void {
    this.#instance(name).active = null;
  }

  async drainSlot(name: string, color: Color, timeoutMs: number = this.#drainTimeoutMs): Promise<void> {
    const instance = this.#instance(name);
    const upstream = isColor(color) ? instance[color] : null;
    if (upstream === null) {
      throw new CutoverError(
        'SLOT_NOT_FOUND',
        `instance "${name}" has no ${String(color)} upstream to drain`,
        {
          details: { instance: name, color },
        },
      );
    }
    if (instance.active === upstream) {
      throw new CutoverError(
        'SLOT_ACTIVE',
        `cannot drain ${color} of instance "${name}": it is the active colour; activate the other colour (or deactivate) first`,
        {
          details: { instance: name, color },
        },
      );
    }
    instance[color] = null;
    await this.#retire(upstream, timeoutMs);
  }

  state(): RouterInstanceState[] {
    const out: RouterInstanceState[] = [];
    for (const instance of this.#instances.values()) {
      const slots: RouterSlotState[] = [];
      for (const u of [instance.blue, instance.green]) {
        if (u !== null)
          slots.push({ color: u.color, version: u.version, port: u.port, inFlight: u.inFlight });
      }
      out.push({
        name: instance.name,
        hosts: [...instance.hosts],
        active: instance.active?.color ?? null,
        slots,
      });
    }
    return out;
  }
}

/** Creates a router (not yet listening). Throws `CONFIG_INVALID` for bad options. */
export function createRouter(options: RouterOptions = {}): Router {
  return new HttpRouter(options);
}
