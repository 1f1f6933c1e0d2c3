import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CutoverError, isColor, listen, otherColor } from '../shared/index.ts';
import type { Clock, Color, FlipReason } from '../shared/index.ts';
import { BodyLimit } from './body-limit.ts';
import {
  METHOD_NOT_ALLOWED,
  noActiveSlot,
  noPreviewSlot,
  notFound,
  PAYLOAD_TOO_LARGE,
  PREVIEW_DENIED,
  rawErrorResponse,
  sendError,
  TARGET_MISMATCH,
} from './error-response.ts';
import type { RouterError } from './error-response.ts';
import { decideReady, READY_PATH, sendReady } from './readiness.ts';
import type { MachineExpectation } from './readiness.ts';
import { FORWARD_TLS, normaliseHost, RequestScan, scanRequestHeaders } from './headers.ts';
import { clientAddressOf, forwardingOf, keepsHttp, redirectLocation } from './edge-policy.ts';
import { EdgeListeners } from './edge-listeners.ts';
import type { HeldRequest } from './held-requests.ts';
import { RoutedInstance } from './routed-instance.ts';
import { MaintenanceResponse } from './maintenance.ts';
import type { MaintenancePage } from './maintenance.ts';
import { onResponseClose, ProxyHandler, ProxyResponse } from './proxy-handler.ts';
import { originForm } from './request-target.ts';
import { decideRoute, OUTCOME, previewDigest, queryParam, readRoutingFacts, RouteDecision } from './route-decision.ts';
import type { Outcome } from './route-decision.ts';
import {
  checkGrace,
  checkInstance,
  checkMaintenance,
  checkPreviewToken,
  checkUpstreamTarget,
  checkWeight,
  resolveRouterOptions,
} from './router-options.ts';
import type { ResolvedRouterOptions } from './router-options.ts';
import { FastFront } from './fast-front.ts';
import type { FastPlan } from './fast-front.ts';
import type { RequestHead } from './request-head-parser.ts';
import { collectStats, renderMetrics } from './router-stats.ts';
import type {
  EdgeCertificate,
  EdgeCertificateInfo,
  ListenOptions,
  Router,
  RouterInstanceState,
  RouterInstanceStats,
  RouterOptions,
} from './router-types.ts';
import { drainServer, trackConnections } from './server-drain.ts';
import { UpgradeHandler } from './upgrade-handler.ts';
import { Upstream } from './upstream.ts';
import type { UpstreamTarget } from './upstream.ts';
import { PREVIEW_PATH, VersionHub, WELL_KNOWN_PREFIX } from './version-signal.ts';
import { answerWellKnown, CLEAR_PREVIEW, pathOf, previewLogin, streamVersion } from './well-known.ts';

// Bounds the raw-Host cache so a flood of random Host headers cannot grow memory.
const ROUTE_CACHE_LIMIT = 4096;
// Beyond this many requests held by one instance, new ones get 503 at once (memory bound).
const MAX_HELD = 10_000;

function noop(): void {}

class HttpRouter implements Router {
  readonly #server: Server<typeof IncomingMessage, typeof ProxyResponse>;
  readonly #options: ResolvedRouterOptions;
  readonly #clock: Clock;
  readonly #maxBodyBytes: number;
  #skewGraceMs: number;
  readonly #instances = new Map<string, RoutedInstance>();
  /** Normalised host → instance; the source of truth. */
  readonly #hosts = new Map<string, RoutedInstance>();
  /** Raw Host header → instance (null: none). Cleared whenever host ownership changes. */
  readonly #routes = new Map<string, RoutedInstance | null>();
  /** Upstreams unregistered and still draining; `close()` cuts them if it runs out of time. */
  readonly #retiring = new Set<Upstream>();
  /** Reused by every request: the request handler is synchronous, so it is never shared. */
  readonly #scan = new RequestScan();
  readonly #decision = new RouteDecision<Upstream>();
  /** Response header lists with HSTS appended, by the upstream's list they extend (the fast path's TLS answers). */
  readonly #hstsLists = new WeakMap<readonly string[], readonly string[]>();
  readonly #hub: VersionHub<RoutedInstance>;
  /** Client connections, tracked only to close the ones that never sent a request when closing. */
  readonly #sockets: Set<Socket>;
  #closed: Promise<void> | null = null;
  /** The raw fast path every connection starts on (null: node:http takes every connection). */
  readonly #fast: FastFront | null;
  /** What the machine's desired state expects, for the ready endpoint (null: no document). */
  #expected: MachineExpectation | null = null;
  /** The TLS listener and the PROXY protocol ones (issue 21). */
  readonly #edge: EdgeListeners;

  constructor(options: RouterOptions) {
    const o = resolveRouterOptions(options);
    this.#options = o;
    this.#clock = o.clock;
    this.#maxBodyBytes = o.maxBodyBytes;
    this.#skewGraceMs = o.skewGraceMs;
    this.#hub = new VersionHub(o.versionHeartbeatMs);
    this.#server = createServer<typeof IncomingMessage, typeof ProxyResponse>({
      ServerResponse: ProxyResponse,
      headersTimeout: o.clientHeadersTimeoutMs,
      requestTimeout: o.clientRequestTimeoutMs,
      keepAliveTimeout: o.clientIdleTimeoutMs,
      // Node checks the two timeouts above on this interval (default 30 s, too coarse for short ones).
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(25, Math.floor(Math.min(o.clientHeadersTimeoutMs, o.clientRequestTimeoutMs) / 4)),
      ),
    });
    this.#server.on('request', this.#onRequest);
    // Without this listener Node answers `100 Continue` before anyone knows whether the request
    // will be forwarded; with it, the router answers 100 only when it dispatches (RFC 9110 §10.1.1)
    // and refuses (413, 404, 403, 503…) without making the client send the body.
    this.#server.on('checkContinue', this.#onCheckContinue);
    this.#server.on('upgrade', this.#onUpgrade);
    this.#fast = o.fastPath ? this.#takeConnections() : null;
    this.#sockets = trackConnections(this.#server);
    // After listen, the server only emits 'error' for a failed accept (EMFILE…); Node keeps
    // accepting, and an unhandled 'error' would crash the data plane, so it is absorbed here.
    this.#server.on('error', noop);
    this.#edge = new EdgeListeners(
      this.#server,
      o,
      (socket) => this.#accept(socket),
      (socket, head) => this.#acceptWithHead(socket, head),
    );
  }

  #route(rawHost: string): RoutedInstance | null {
    let instance = this.#routes.get(rawHost);
    if (instance === undefined) {
      instance = this.#hosts.get(normaliseHost(rawHost)) ?? null;
      if (this.#routes.size >= ROUTE_CACHE_LIMIT) this.#routes.clear();
      this.#routes.set(rawHost, instance);
    }
    return instance;
  }

  /**
   * Puts the fast path in front of node:http: every connection the server accepts (and every TLS
   * socket emitted as 'connection') goes to the fast front, which hands it to node:http's own
   * connection listener when a request needs more than a plain relay.
   */
  #takeConnections(): FastFront {
    const server = this.#server;
    const listeners = server.listeners('connection');
    // node:http's own connection listener is the only one at this point; anything else means Node
    // changed how a server takes connections, and handing off would silently break.
    if (listeners.length !== 1) throw new Error('node:http server: expected one connection listener');
    const nodeAccept = listeners[0] as (socket: Socket) => void;
    server.removeListener('connection', nodeAccept);
    const o = this.#options;
    const front = new FastFront({
      plan: (head, socket, out) => this.#fastPlan(head, socket, out),
      handOff: (socket, bytes) => {
        nodeAccept.call(server, socket);
        // node:http reads a plain socket's handle directly (it "consumes" it), so bytes already
        // read are given to its parser as a 'data' event, before any later ones.
        if (bytes !== null) socket.emit('data', bytes);
        socket.resume();
      },
      headersTimeoutMs: o.clientHeadersTimeoutMs,
      requestTimeoutMs: o.clientRequestTimeoutMs,
      idleTimeoutMs: o.clientIdleTimeoutMs,
    });
    server.on('connection', (socket: Socket) => front.accept(socket));
    return front;
  }

  /**
   * An upstream's response header list with HSTS appended, built once per list (they are the
   * upstream's own arrays, fixed for its life), so a request over TLS allocates none.
   */
  #withHsts(extra: readonly string[], hsts: string): readonly string[] {
    let withHsts = this.#hstsLists.get(extra);
    if (withHsts === undefined) {
      withHsts = [...extra, 'strict-transport-security', hsts];
      this.#hstsLists.set(extra, withHsts);
    }
    return withHsts;
  }

  /**
   * The fast path's share of #onRequest and #serve: the same header rewrite and route decision for
   * a plain routed request, or false (nothing changed) for anything the node:http path answers
   * itself: an unknown host, a body over the limit, a `/.` path (well-known, ready), maintenance,
   * a preview, a hold, a refusal.
   */
  #fastPlan(head: RequestHead, socket: Socket, out: FastPlan): boolean {
    const url = head.target;
    if (url.charCodeAt(1) === 46 /* . */) return false;
    const scan = this.#scan;
    const forwarding = forwardingOf(socket, this.#options.trustedProxies);
    const headers = scanRequestHeaders(head.headers, clientAddressOf(socket), scan, forwarding);
    const instance = this.#route(scan.host);
    if (instance === null || instance.maintenance !== null || scan.contentLength > this.#maxBodyBytes) return false;
    // The redirect to HTTPS is node:http's path's answer.
    if (this.#options.redirectHttp && scan.proto === 'http' && !keepsHttp(url)) return false;
    readRoutingFacts(scan, url, instance.stickyCookie);
    // A preview is rare and has its own answers (cookie clearing, 403/503): node:http's path.
    if (scan.preview !== '' || instance.active === null) return false;
    const d = this.#decision;
    decideRoute(instance, scan, this.#clock, this.#skewGraceMs, false, d);
    const upstream = d.upstream;
    // Not reached with an active colour and no preview; other outcomes change no state, so a later
    // one would still be answered correctly by node:http's path.
    if (d.outcome !== OUTCOME.ROUTE || upstream === null) return false;
    out.upstream = upstream;
    out.headers = headers;
    out.extra = d.reload ? upstream.reloadHeaders : upstream.responseHeaders;
    if (d.assigned) out.extra = d.reload ? upstream.stickyReloadHeaders : upstream.stickyHeaders;
    // HSTS on a response of the TLS listener (RFC 6797 §7.2), as #hsts does on node:http's path.
    if ((forwarding & FORWARD_TLS) !== 0 && this.#options.hsts !== null) out.extra = this.#withHsts(out.extra, this.#options.hsts);
    out.htmlExtra =
      !d.preview && scan.deploymentCookie !== upstream.deploymentCookieValue ? upstream.deploymentCookieHeaders : null;
    return true;
  }

  readonly #onRequest = (req: IncomingMessage, res: ProxyResponse): void => {
    const scan = this.#scan;
    const forwarding = forwardingOf(req.socket, this.#options.trustedProxies);
    const headers = scanRequestHeaders(req.rawHeaders, clientAddressOf(req.socket), scan, forwarding);
    if ((forwarding & FORWARD_TLS) !== 0 && this.#options.hsts !== null) this.#hsts(res);
    // Closing: every response ends its connection, so keep-alive clients reconnect (to a successor
    // agent, on a handover) instead of racing their next request against our close.
    if (this.#closed !== null) res.shouldKeepAlive = false;
    const instance = this.#route(scan.host);
    if (instance === null) return this.#unknownHost(req, res, scan.host);
    if (scan.contentLength > this.#maxBodyBytes) {
      // The body stays unread: the connection cannot carry another request.
      res.shouldKeepAlive = false;
      return sendError(res, PAYLOAD_TOO_LARGE);
    }
    let url = req.url as string;
    if (url.charCodeAt(0) !== 47 /* / */) {
      const origin = originForm(url, scan.host);
      if (origin === null) return sendError(res, TARGET_MISMATCH);
      // Held requests and the proxy read req.url again: it must be the rewritten one.
      req.url = url = origin;
    }
    if (this.#options.redirectHttp && scan.proto === 'http' && !keepsHttp(url)) return this.#redirect(res, scan, url);
    // Before maintenance: it is an instance-wide page, and every machine showing it is as ready as
    // any other; a load balancer that dropped them all would show its own error page instead.
    if (url.charCodeAt(1) === 46 /* . */ && pathOf(url) === READY_PATH) return this.#ready(instance, req, res);
    if (instance.maintenance !== null) return instance.maintenance.send(res, req.method === 'HEAD');
    readRoutingFacts(scan, url, instance.stickyCookie);
    this.#serve(instance, req, res, headers, scan, url);
  };

  /** The connection entry point: every accepted client connection (plain, or TLS once decrypted) comes here. */
  #accept(socket: Socket): void {
    this.#server.emit('connection', socket);
  }

  /** A paused plain connection whose PROXY protocol header was read, with the bytes read after it. */
  #acceptWithHead(socket: Socket, head: Buffer): void {
    this.#accept(socket);
    // node:http reads the TCP handle itself, past anything unshifted: the bytes that came with
    // the header are given to it as the socket's data instead.
    if (head.length > 0) socket.emit('data', head);
    socket.resume();
  }

  /** HSTS on a response of the TLS listener (RFC 6797 §7.2: never over plain HTTP). */
  #hsts(res: ProxyResponse): void {
    res.setHeader('strict-transport-security', this.#options.hsts as string);
  }

  /** `redirectHttp`: 308 keeps the method and body (RFC 9110 §15.4.9), unlike 301. */
  #redirect(res: ProxyResponse, scan: RequestScan, url: string): void {
    // The body (if any) is not read: the connection cannot carry another request.
    if (scan.hasBody) res.shouldKeepAlive = false;
    res.writeHead(308, ['location', redirectLocation(scan.host, url, this.#edge.tlsPort), 'content-length', '0']);
    res.end();
  }

  /**
   * 404 for a Host no instance has, except the ready check naming a host in its query
   * (`?host=shop.example.com`): some load balancers (AWS ALB) cannot set a Host on their health
   * checks and send the machine's address instead.
   */
  #unknownHost(req: IncomingMessage, res: ProxyResponse, rawHost: string): void {
    const url = req.url as string;
    const named = url.charCodeAt(1) === 46 && pathOf(url) === READY_PATH ? queryParam(url, 'host') : '';
    const instance = named === '' ? undefined : this.#hosts.get(normaliseHost(named));
    if (instance === undefined) return sendError(res, notFound(normaliseHost(rawHost)));
    this.#ready(instance, req, res);
  }

  #ready(instance: RoutedInstance, req: IncomingMessage, res: ProxyResponse): void {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return sendError(res, METHOD_NOT_ALLOWED);
    sendReady(res, decideReady(this.#expected, instance.name, instance.active?.version ?? null), head);
  }

  readonly #onCheckContinue = (req: IncomingMessage, res: ProxyResponse): void => {
    res.expectContinue = true;
    // If the answer is a refusal, the client may or may not send the body after it: the bytes on
    // the connection are ambiguous, so it is not reused (rare: large uploads ask for 100).
    res.shouldKeepAlive = false;
    this.#onRequest(req, res);
  };

  #serve(
    instance: RoutedInstance,
    req: IncomingMessage,
    res: ProxyResponse,
    headers: string[],
    scan: RequestScan,
    url: string,
  ): void {
    // '.' second: the cheap test that keeps every other path off the well-known branch.
    const wellKnown = url.charCodeAt(1) === 46 && url.startsWith(WELL_KNOWN_PREFIX);
    if (wellKnown && pathOf(url) === PREVIEW_PATH) return previewLogin(instance, req, res, url);
    const d = this.#decision;
    decideRoute(instance, scan, this.#clock, this.#skewGraceMs, wellKnown, d);
    const upstream = d.upstream;
    if (d.outcome !== OUTCOME.ROUTE || upstream === null)
      return this.#notRouted(instance, req, res, headers, scan, d.outcome);
    if (wellKnown) return answerWellKnown(this.#hub, instance, req, res, pathOf(url), upstream, d);
    if (res.expectContinue) res.writeContinue();
    let extra = d.reload ? upstream.reloadHeaders : upstream.responseHeaders;
    if (d.assigned) extra = d.reload ? upstream.stickyReloadHeaders : upstream.stickyHeaders;
    // Preview pages must not move the browser's deployment cookie: that one follows what it runs.
    const htmlExtra =
      !d.preview && scan.deploymentCookie !== upstream.deploymentCookieValue
        ? upstream.deploymentCookieHeaders
        : null;
    const opts = {
      path: url,
      method: req.method as string,
      headers,
      body: scan.hasBody ? (scan.chunked ? req.pipe(new BodyLimit(this.#maxBodyBytes, req)) : req) : null,
    };
    const handler = new ProxyHandler(upstream, res, opts, extra, htmlExtra, performance.now());
    res.proxy = handler;
    res.on('close', onResponseClose);
    upstream.inFlight++;
    upstream.counters.requests++;
    upstream.pool.dispatch(opts, handler);
  }

  #notRouted(
    instance: RoutedInstance,
    req: IncomingMessage,
    res: ProxyResponse,
    headers: string[],
    scan: RequestScan,
    outcome: Outcome,
  ): void {
    if (outcome === OUTCOME.PREVIEW_DENIED)
      return sendError(res, PREVIEW_DENIED, scan.previewFromCookie ? CLEAR_PREVIEW : undefined);
    if (outcome === OUTCOME.NO_PREVIEW_SLOT) return sendError(res, noPreviewSlot(instance.name));
    if (outcome === OUTCOME.NO_ACTIVE && this.#options.pauseTimeoutMs > 0 && this.#closed === null) {
      if (instance.held.size < MAX_HELD) return instance.held.hold(req, res, headers, scan);
    }
    sendError(res, noActiveSlot(instance.name));
  }

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const scan = this.#scan;
    const forwarding = forwardingOf(req.socket, this.#options.trustedProxies);
    const headers = scanRequestHeaders(req.rawHeaders, clientAddressOf(req.socket), scan, forwarding);
    const instance = this.#route(scan.host);
    let error: RouterError | null = null;
    let upstream: Upstream | null = null;
    let reload = false;
    let url = req.url as string;
    const origin = url.charCodeAt(0) === 47 /* / */ ? url : originForm(url, scan.host);
    if (origin === null) error = TARGET_MISMATCH;
    else if (instance === null) error = notFound(normaliseHost(scan.host));
    else if (instance.maintenance !== null) error = instance.maintenance.error;
    else {
      req.url = url = origin;
      readRoutingFacts(scan, url, instance.stickyCookie);
      const d = this.#decision;
      decideRoute(instance, scan, this.#clock, this.#skewGraceMs, false, d);
      upstream = d.upstream;
      reload = d.reload;
      // Upgrades are not held: WebSocket clients retry on their own.
      if (d.outcome === OUTCOME.PREVIEW_DENIED) error = PREVIEW_DENIED;
      else if (d.outcome === OUTCOME.NO_PREVIEW_SLOT) error = noPreviewSlot(instance.name);
      else if (upstream === null) error = noActiveSlot(instance.name);
    }
    if (error !== null || upstream === null) {
      socket.on('error', noop);
      socket.end(rawErrorResponse(error ?? noActiveSlot('')), 'latin1');
      return;
    }
    const websocket = scan.upgrade.toLowerCase() === 'websocket';
    const extra = reload ? upstream.reloadHeaders : upstream.responseHeaders;
    const handler = new UpgradeHandler(upstream, socket, head, websocket, extra);
    upstream.inFlight++;
    upstream.counters.requests++;
    upstream.pool.dispatch(
      {
        path: url,
        method: req.method as string,
        headers,
        body: null,
        upgrade: scan.upgrade || 'websocket',
      },
      handler,
    );
  };

  listen(port: number, host?: string, options?: ListenOptions): Promise<number> {
    if (options?.proxyProtocol === true) return this.#edge.listenProxied(port, host, options);
    return listen(this.#server, port, host, options);
  }

  listenTls(port: number, host?: string, options?: ListenOptions): Promise<number> {
    return this.#edge.listenTls(port, host, options);
  }

  setCertificates(certs: readonly EdgeCertificate[]): void {
    this.#edge.setCertificates(certs);
  }

  certificates(): EdgeCertificateInfo[] {
    return this.#edge.certificates();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  #upstreams(): Upstream[] {
    const upstreams = [...this.#retiring];
    for (const instance of this.#instances.values()) {
      if (instance.blue !== null) upstreams.push(instance.blue);
      if (instance.green !== null) upstreams.push(instance.green);
    }
    return upstreams;
  }

  /**
   * The response each client connection is answering now (Node's `socket._httpMessage`: the one
   * assigned to the socket, set until that response finishes), or null.
   */
  #current(socket: Socket): ProxyResponse | null {
    const res = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    return res instanceof ProxyResponse && !res.writableEnded ? res : null;
  }

  async #close(): Promise<void> {
    const fast = this.#fast;
    fast?.close();
    const draining = drainServer(
      this.#server,
      this.#sockets,
      this.#options.drainTimeoutMs,
      this.#edge.close(),
      () => fast?.closeIdle(),
    );
    // Requests in flight now were accepted with keep-alive in mind. Answered that way, their
    // client may write its next request just as the drain closes the idle connection, and that
    // request is reset (acceptance §3: the slow requests answered ~0.3 s into a takeover, past
    // drainServer's idle grace, carried `Connection: keep-alive`; the next request on the socket
    // got ECONNRESET 1–4 ms later). So every answer not yet begun says `Connection: close`, and the
    // client opens a new connection, which reaches the successor agent.
    for (const socket of this.#sockets) {
      const res = this.#current(socket);
      if (res !== null && !res.headersSent) res.shouldKeepAlive = false;
    }
    // Streams (SSE, downloads) would hold this router open until the drain timeout and then be
    // cut: after a short grace they are ended cleanly, and EventSource clients reconnect.
    const streamTimer = setTimeout(() => {
      for (const socket of this.#sockets) {
        const handler = this.#current(socket)?.proxy;
        if (handler != null && handler.res.headersSent) handler.endStream();
      }
      fast?.endStreams();
    }, this.#options.streamGraceMs);
    streamTimer.unref();
    void draining.then(() => clearTimeout(streamTimer));
    this.#hub.closeAll();
    for (const instance of this.#instances.values()) {
      for (const held of instance.held.takeAll()) sendError(held.res, noActiveSlot(instance.name));
    }
    // Upgraded sockets keep server.close() waiting: tell them to go away well within the drain.
    const window = Math.min(this.#options.wsDrainTimeoutMs, this.#options.drainTimeoutMs / 2);
    for (const upstream of this.#upstreams()) {
      for (const tunnel of upstream.tunnels) tunnel.scheduleGoingAway(Math.random() * window);
    }
    const { timedOut, closed } = await draining;
    const upstreams = this.#upstreams();
    if (timedOut) {
      this.#server.closeAllConnections();
      this.#edge.destroyAll();
      // Connections the fast path ended but whose client never closed its side are node:http's
      // neither: every accepted socket still open goes.
      for (const socket of this.#sockets) socket.destroy();
      fast?.destroyAll();
      await Promise.all(upstreams.map((u) => u.destroy()));
      await closed;
    } else {
      // Every client connection is gone, so nothing is in flight any more: this only closes pools.
      await Promise.all(upstreams.map((u) => u.drain(0)));
    }
  }

  #instance(name: string): RoutedInstance {
    const instance = this.#instances.get(name);
    if (instance === undefined) {
      throw new CutoverError(
        'INSTANCE_NOT_FOUND',
        `the router has no instance "${name}"; register it with setInstance first`,
        { details: { instance: name } },
      );
    }
    return instance;
  }

  #slot(instance: RoutedInstance, color: Color, doing: string): Upstream {
    const upstream = isColor(color) ? instance.slot(color) : null;
    if (upstream === null) {
      throw new CutoverError(
        'SLOT_NOT_FOUND',
        `instance "${instance.name}" has no ${String(color)} upstream; register it with setSlot before ${doing}`,
        { details: { instance: instance.name, color } },
      );
    }
    return upstream;
  }

  #retire(upstream: Upstream, timeoutMs: number): Promise<void> {
    this.#retiring.add(upstream);
    return upstream
      .drain(timeoutMs, this.#options.wsDrainTimeoutMs)
      .finally(() => this.#retiring.delete(upstream));
  }

  /** After any change of what serves an instance: held requests go, version streams hear of it. */
  #changed(instance: RoutedInstance): void {
    if (instance.active !== null) {
      for (const held of instance.held.takeAll()) {
        if (held.res.destroyed) continue;
        this.#serve(instance, held.req, held.res, held.headers, held.scan, held.req.url as string);
      }
    }
    this.#hub.publish(instance, (stream) => streamVersion(instance, stream));
  }

  #expireHeld(instance: RoutedInstance, held: HeldRequest): void {
    sendError(held.res, noActiveSlot(instance.name));
  }

  setInstance(name: string, hosts: string[]): void {
    const normalised = checkInstance(name, hosts);
    for (const host of normalised) {
      const owner = this.#hosts.get(host);
      if (owner !== undefined && owner.name !== name) {
        throw new CutoverError(
          'HOST_IN_USE',
          `host "${host}" is already served by instance "${owner.name}"; remove it there first`,
          { details: { host, instance: owner.name } },
        );
      }
    }
    let instance = this.#instances.get(name);
    if (instance === undefined) {
      const created: RoutedInstance = new RoutedInstance(name, this.#options.pauseTimeoutMs, (held) =>
        this.#expireHeld(created, held),
      );
      instance = created;
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
    instance.setActive(null, this.#clock.now());
    for (const held of instance.held.takeAll()) sendError(held.res, noActiveSlot(name));
    this.#hub.closeKey(instance);
    const drains: Promise<void>[] = [];
    if (instance.blue !== null) drains.push(this.#retire(instance.blue, this.#options.drainTimeoutMs));
    if (instance.green !== null) drains.push(this.#retire(instance.green, this.#options.drainTimeoutMs));
    instance.blue = null;
    instance.green = null;
    await Promise.all(drains);
  }

  setSlot(name: string, target: UpstreamTarget): void {
    const instance = this.#instance(name);
    checkUpstreamTarget(target);
    const previous = instance.slot(target.color);
    if (previous !== null && previous.sameAs(target)) return;
    const upstream = new Upstream(
      target,
      {
        connections: this.#options.connectionsPerUpstream,
        headersTimeoutMs: this.#options.upstreamTimeoutMs,
      },
      instance.stickyCookie,
      this.#clock.now(),
    );
    if (target.color === 'blue') instance.blue = upstream;
    else instance.green = upstream;
    if (previous === null) return;
    const serving = instance.serving(previous);
    if (instance.active === previous) instance.active = upstream;
    if (instance.shiftTo === previous) instance.shiftTo = upstream;
    void this.#retire(previous, this.#options.drainTimeoutMs);
    if (serving) this.#changed(instance);
  }

  activate(name: string, color: Color, reason: FlipReason = 'forward'): void {
    const instance = this.#instance(name);
    const target = this.#slot(instance, color, 'activating');
    const before = instance.active;
    const shiftedTo = instance.shiftTo;
    instance.setActive(target, this.#clock.now(), reason === 'rollback');
    this.#leave(instance, before, reason);
    this.#leave(instance, shiftedTo, reason);
    target.keepTunnels();
    this.#changed(instance);
  }

  /** WebSockets of a colour that stopped serving go, after the skew grace or (rollback) now. */
  #leave(instance: RoutedInstance, upstream: Upstream | null, reason: FlipReason): void {
    if (upstream === null || instance.serving(upstream)) return;
    upstream.retireTunnels(reason === 'rollback' ? 0 : this.#skewGraceMs, this.#options.wsDrainTimeoutMs);
  }

  shift(name: string, color: Color, weightPercent: number): void {
    const instance = this.#instance(name);
    checkWeight(weightPercent);
    const target = this.#slot(instance, color, 'shifting to it');
    if (weightPercent === 100) return this.activate(name, color);
    const base = this.#slot(instance, otherColor(color), 'shifting away from it');
    if (weightPercent === 0) return this.activate(name, base.color);
    const sameShift = instance.active === base && instance.shiftTo === target;
    const credit = instance.shiftCredit;
    if (instance.active !== base) instance.setActive(base, this.#clock.now());
    instance.shiftTo = target;
    instance.shiftWeight = weightPercent;
    instance.shiftCredit = sameShift ? credit : 0;
    this.#changed(instance);
  }

  deactivate(name: string): void {
    const instance = this.#instance(name);
    instance.setActive(null, this.#clock.now());
    this.#changed(instance);
  }

  async drainSlot(
    name: string,
    color: Color,
    timeoutMs: number = this.#options.drainTimeoutMs,
  ): Promise<void> {
    const instance = this.#instance(name);
    const upstream = this.#slot(instance, color, 'draining');
    if (instance.serving(upstream)) {
      throw new CutoverError(
        'SLOT_ACTIVE',
        `cannot drain ${color} of instance "${name}": it receives traffic; activate the other colour (or deactivate) first`,
        { details: { instance: name, color } },
      );
    }
    if (color === 'blue') instance.blue = null;
    else instance.green = null;
    if (instance.previous === upstream) instance.previous = null;
    await this.#retire(upstream, timeoutMs);
  }

  setPreviewToken(name: string, token: string | null): void {
    const instance = this.#instance(name);
    checkPreviewToken(token);
    instance.previewDigest = token === null ? null : previewDigest(token);
  }

  setSkewGrace(ms: number): void {
    checkGrace(ms);
    this.#skewGraceMs = ms;
  }

  setMaintenance(name: string, page: MaintenancePage | null): void {
    const instance = this.#instance(name);
    checkMaintenance(page);
    instance.maintenance = page === null ? null : new MaintenanceResponse(page);
    const maintenance = instance.maintenance;
    if (maintenance !== null) {
      for (const held of instance.held.takeAll()) maintenance.send(held.res, held.req.method === 'HEAD');
    }
  }

  setExpectation(expected: MachineExpectation | null): void {
    this.#expected = expected;
  }

  state(): RouterInstanceState[] {
    return [...this.#instances.values()].map((instance) => instance.describe());
  }

  stats(): RouterInstanceStats[] {
    return collectStats(this.#instances.values(), this.#clock.now());
  }

  metricsText(): string {
    return renderMetrics(this.stats());
  }
}

/** Creates a router (not yet listening). Throws `CONFIG_INVALID` for bad options. */
export function createRouter(options: RouterOptions = {}): Router {
  return new HttpRouter(options);
}

export type { Router, RouterInstanceState, RouterOptions, RouterSlotState } from './router-types.ts';
