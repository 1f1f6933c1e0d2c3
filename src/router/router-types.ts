import type { Clock, Color, FlipReason } from '../shared/index.ts';
import type { MaintenancePage } from './maintenance.ts';
import type { MachineExpectation } from './readiness.ts';
import type { ResponseClass } from './slot-counters.ts';
import type { UpstreamTarget } from './upstream.ts';

/** Tuning of one router. Every key is optional; durations are in milliseconds. */
export interface RouterOptions {
  /** How long an upstream may take to send response headers before the client gets 504. Default 60000. */
  upstreamTimeoutMs?: number;
  /** How long `close()`, `removeInstance()` and a replaced slot wait for in-flight requests. Default 30000. */
  drainTimeoutMs?: number;
  /** Maximum connections kept to each upstream process. Default 128. */
  connectionsPerUpstream?: number;
  /**
   * How long a request to an instance without an active colour is held, waiting for an
   * activation, before it gets 503 with `Retry-After`. 0 answers 503 at once. Default 5000.
   */
  pauseTimeoutMs?: number;
  /**
   * Skew protection: for how long after a flip a request carrying the previous colour's
   * deployment id is still served by it (while it is registered). 0 turns it off. Default 300000.
   */
  skewGraceMs?: number;
  /**
   * When a colour is drained, its WebSockets get a close frame 1001 each at a random moment within
   * this window (so clients reconnect gradually, not all at once). Default 60000.
   */
  wsDrainTimeoutMs?: number;
  /**
   * When the router closes (a takeover, the agent stopping): responses still streaming this long
   * after the close began (SSE, long downloads) are ended cleanly, a chunked one with its
   * terminator, so clients reconnect (to the successor) instead of keeping the old agent alive.
   * Default 5000.
   */
  streamGraceMs?: number;
  /** Largest request body accepted; larger ones get 413. Default 104857600 (100 MiB). */
  maxBodyBytes?: number;
  /** A client must send its request headers within this time, or get 408. Default 60000. */
  clientHeadersTimeoutMs?: number;
  /** A client must send its whole request (headers and body) within this time, or get 408. Default 300000. */
  clientRequestTimeoutMs?: number;
  /** A keep-alive client connection idle for this long is closed. Default 60000. */
  clientIdleTimeoutMs?: number;
  /** Interval of the heartbeat comment on version event streams. Default 25000. */
  versionHeartbeatMs?: number;
  /**
   * Serve plain routed requests on the raw connection with the strict head parser, handing
   * everything else to node:http (ADR 0030). false: node:http parses every request. Default true.
   */
  fastPath?: boolean;
  /** Time source for flip times and the skew grace. Default: the system clock. */
  clock?: Clock;
  /**
   * Peers (CIDRs, IPv4 and IPv6, e.g. `10.0.0.0/8`, `::1/128`; a bare address is one host) whose
   * `X-Forwarded-For`, `-Proto` and `-Host` are kept (this hop appended to `-For`). Everyone
   * else's are replaced by the router's own. Decided once per connection. Default: none.
   */
  trustedProxies?: readonly string[];
  /**
   * The plain listener answers `308` to `https://<host><path>` for every routed host, except
   * `/.well-known/cutover/ready` and `/.well-known/acme-challenge/…`, which keep working over HTTP.
   * Default false.
   */
  redirectHttp?: boolean;
  /**
   * `Strict-Transport-Security` on every response of the TLS listener (never over plain HTTP,
   * RFC 6797 §7.2). `true` is one year (`max-age=31536000`). Default false.
   */
  hsts?: boolean | { maxAgeSeconds: number; includeSubDomains?: boolean };
}

/** How one listener of the router binds and what it expects first on a connection. */
export interface ListenOptions {
  /** SO_REUSEPORT (Linux): a successor process can bind the same port while this one listens. */
  reusePort?: boolean;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2) naming the client, as a load
   * balancer forwarding TCP sends it. Only peers in `trustedProxies` (which must be set) may
   * connect; a connection from anyone else, or without exactly a header, is closed. The client
   * it names is then the one `X-Forwarded-For` and trust are decided for. Default false.
   */
  proxyProtocol?: boolean;
}

/** A certificate the router's TLS listener serves. */
export interface EdgeCertificate {
  /** Host names it serves: exact (`shop.example.com`) or a one-label wildcard (`*.example.com`); lowercase. */
  hosts: readonly string[];
  /** PEM: the chain (leaf first) and its private key. */
  cert: string;
  key: string;
  /** Serves handshakes whose SNI matches no other certificate's hosts, or that send no SNI. */
  isDefault?: boolean;
}

/** A certificate the router serves now, as `certificates()` reports it (never the key). */
export interface EdgeCertificateInfo {
  hosts: string[];
  /** SHA-256 of the leaf certificate's DER, lowercase hex. */
  fingerprint: string;
  /** The leaf's expiry (ISO 8601). */
  notAfter: string;
  isDefault: boolean;
}

/** One registered colour of an instance, as `state()` reports it. */
export interface RouterSlotState {
  color: Color;
  version: string;
  port: number;
  deploymentId: string | null;
  /** Requests (and WebSocket tunnels) currently being served by this colour. */
  inFlight: number;
}

/** One instance, as `state()` reports it. */
export interface RouterInstanceState {
  name: string;
  hosts: string[];
  /** The colour that serves everyone; during a weighted shift, the colour being shifted away from. */
  active: Color | null;
  /** Share of new clients per colour, in percent (both 0 when no colour is active). */
  weights: Record<Color, number>;
  /** The colour being shifted to, while a weighted shift is in progress. */
  shiftingTo: Color | null;
  /** When the active colour last changed (ISO 8601), or null. */
  flippedAt: string | null;
  /** True while a preview token is set. */
  preview: boolean;
  /** True while the instance answers every request with its maintenance page. */
  maintenance: boolean;
  /** Requests waiting for an active colour. */
  held: number;
  slots: RouterSlotState[];
}

/**
 * The data plane's HTTP/1.1 reverse proxy: Host → instance → colour → slot process.
 * Flipping colours is a single reference switch; requests already in flight finish where they
 * started. Every proxied response carries `x-app-version` (and `x-deployment-id`).
 *
 * Besides proxying, on every routed host the router answers these itself:
 * - `GET /.well-known/cutover/version`: `{instance, version, deploymentId, color, flippedAt}` of
 *   the colour this client gets, as JSON, or with `Accept: text/event-stream` as an SSE stream
 *   that sends it at once and again (`event: version`) at each flip and shift;
 * - `GET /.well-known/cutover/version.js`: the browser helper (see `versionScriptFile`);
 * - `GET /.well-known/cutover/preview?token=…`: checks the token, sets the `cutover_preview`
 *   cookie and redirects to `/` (`?token=` empty clears it);
 * - `GET /.well-known/cutover/ready`: for outside load balancers, 200 `{ready: true, instance,
 *   version}` when this machine serves the instance's live release, else 503 `{ready: false,
 *   instance, reason}` (see `decideReady` and `setExpectation`). Answered before maintenance and
 *   pausing, and never counted. With a `Host` that names no instance, `?host=<an instance's host>`
 *   names it (for load balancers that cannot set a Host on their checks).
 *
 * Routing rules, in order (see `decideRoute`):
 * 1. **Preview**: a request with `x-cutover-preview: <token>` or cookie `cutover_preview=<token>`
 *    goes to the idle colour (the one being shifted to during a shift) when the token matches
 *    (constant-time); a wrong token, or any token while none is set, gets 403 and is never routed
 *    (a wrong cookie is also cleared, so a stale one costs one 403, not all of them).
 * 2. **Pause**: with no active colour, requests wait up to `pauseTimeoutMs` for one, then 503.
 * 3. **Weighted shift**: a client keeps the version it first got through the cookie
 *    `cutover_sticky_<instance>=<version>` (HttpOnly, SameSite=Lax, Path=/, for the browser
 *    session), whichever colour holds that version on this router (another machine may hold it in
 *    the other colour); clients without it, or whose version no serving colour holds, are
 *    assigned by smooth weighted round robin (exact proportions, no randomness) and get the
 *    cookie. The value of earlier versions, `<color>.<deploymentId>`, is honoured for one release
 *    and rewritten with the version.
 * 4. **Skew protection**: a request naming a skew id (header `x-deployment-id`, else query
 *    `?dpl=`, else cookie `cutover_dpl`) of the colour that was active before the last flip — its
 *    version, or its deployment id — is served by that colour while it is registered and within
 *    `skewGraceMs` of the flip. Any id naming neither it nor the active colour gets the active
 *    colour and `x-cutover-reload: 1`. The `cutover_dpl` cookie carries the version; it is set on
 *    HTML responses only (the page defines what the browser runs; API and asset responses must
 *    not move it), and only when it differs from the serving colour's version, so a steady client
 *    never gets a Set-Cookie.
 * 5. Otherwise the active colour.
 * Maintenance (`setMaintenance`) overrides all of these.
 */
export interface Router {
  /** Starts listening; resolves with the bound port (pass 0 for an ephemeral one). */
  listen(port: number, host?: string, options?: ListenOptions): Promise<number>;
  /**
   * Starts the TLS listener (HTTP/1.1 over TLS 1.2+); resolves with the bound port. It serves the
   * certificates of `setCertificates` (none yet: every handshake is refused), and its requests
   * carry `X-Forwarded-Proto: https`. `close()` closes it too.
   */
  listenTls(port: number, host?: string, options?: ListenOptions): Promise<number>;
  /**
   * Replaces the whole set of certificates. SNI picks one: an exact host, then a one-label
   * wildcard (`*.example.com` serves `a.example.com`, not `a.b.example.com`), then the default;
   * a handshake without SNI gets the default; with no default, an unknown name is refused.
   * New handshakes use the new set at once; live connections keep theirs. Throws `TLS_INVALID`
   * naming the host (and nothing changes) when a pair does not load: a certificate or key that
   * is not PEM, a key that is not the certificate's, a bad host name, a host in two certificates,
   * or two defaults. Never puts key material in an error.
   */
  setCertificates(certs: readonly EdgeCertificate[]): void;
  /** The certificates served now, without their keys. */
  certificates(): EdgeCertificateInfo[];
  /**
   * Stops accepting, ends version streams, tells WebSockets to go away (1001, spread over half
   * the drain timeout), lets in-flight requests finish (bounded by `drainTimeoutMs`), closes
   * keep-alive sockets and every pool. Every answer from then on, in-flight ones included, carries
   * `Connection: close`; responses still streaming after `streamGraceMs` are ended cleanly.
   * Held requests get 503.
   */
  close(): Promise<void>;
  /** Creates or updates an instance and replaces its host list. Throws `HOST_IN_USE` if another instance serves one of the hosts. */
  setInstance(name: string, hosts: string[]): void;
  /** Stops routing the instance's hosts, then drains and closes its upstreams. Unknown names are ignored. */
  removeInstance(name: string): Promise<void>;
  /**
   * Registers the upstream for a colour (it receives traffic only once activated, shifted to, or
   * previewed). Replacing a target drains the old pool in the background; if that colour is
   * serving, the new target takes over at once. Registering the identical target again changes
   * nothing (and keeps its counters).
   */
  setSlot(name: string, target: UpstreamTarget): void;
  /**
   * The flip, all at once: the next request goes to `color`; requests in flight elsewhere finish
   * normally. Ends a weighted shift. Releases held requests. Throws `SLOT_NOT_FOUND`.
   * WebSockets of a colour that stops serving get 1001, each at a random moment within
   * `wsDrainTimeoutMs`: from `skewGraceMs` after a `forward` flip (the default), at once after a
   * `rollback`; a rollback also ends skew protection for the colour it left (its deployment id
   * gets the active colour and `x-cutover-reload: 1`).
   */
  activate(name: string, color: Color, reason?: FlipReason): void;
  /**
   * Weighted cutover step: `weightPercent` % of new clients go to `color`, the others to the other
   * colour; clients keep the colour they got (sticky cookie). 100 is `activate(color)`, 0 is
   * `activate(other colour)`. Both colours must be registered for 1–99 (`SLOT_NOT_FOUND`), and
   * the weight must be an integer 0–100 (`VALIDATION_FAILED`).
   */
  shift(name: string, color: Color, weightPercent: number): void;
  /** No active colour: new requests are held up to `pauseTimeoutMs`, then get 503 with `retry-after: 1`. */
  deactivate(name: string): void;
  /**
   * Unregisters a colour that receives no new requests and resolves once its in-flight requests
   * finished (after `timeoutMs` the rest are cut; those without response headers get 504), its
   * WebSockets were closed with 1001 (spread over `wsDrainTimeoutMs`, with jitter) and its pool
   * closed. Rejects with `SLOT_ACTIVE` for the active colour or the one being shifted to,
   * `SLOT_NOT_FOUND` for an empty one.
   */
  drainSlot(name: string, color: Color, timeoutMs?: number): Promise<void>;
  /**
   * Opens the preview route of the instance with `token` (at least 16 characters), or closes it
   * with null. Throws `INSTANCE_NOT_FOUND`, `VALIDATION_FAILED`.
   */
  setPreviewToken(name: string, token: string | null): void;
  /** Changes the skew protection grace (ms after a flip; 0 turns it off) for every instance. */
  setSkewGrace(ms: number): void;
  /**
   * Maintenance mode: every request of the instance (WebSocket upgrades and the version endpoint
   * included) gets 503, `Retry-After` and the page (a default one when `html` is not given);
   * null ends it. Throws `INSTANCE_NOT_FOUND`.
   */
  setMaintenance(name: string, page: MaintenancePage | null): void;
  /**
   * What the machine's desired-state document expects (the agent sets it when it accepts a
   * document, flips, or starts), or null when the agent holds none: then an instance is ready
   * whenever a colour is active. Read by the ready endpoint only.
   */
  setExpectation(expected: MachineExpectation | null): void;
  state(): RouterInstanceState[];
  /** Per instance and registered colour: counters since the colour's target was registered. */
  stats(): RouterInstanceStats[];
  /**
   * The counters in Prometheus text exposition format 0.0.4 (`cutover_requests_total`,
   * `cutover_request_duration_seconds`, `cutover_inflight`, `cutover_weight_percent`).
   */
  metricsText(): string;
}

/** A latency histogram: non-cumulative counts per bucket upper bound (ms), then the overflow. */
export interface RouterLatencyHistogram {
  /** Upper bounds (inclusive) in ms; `counts` has one more entry for the rest. */
  bucketsMs: number[];
  counts: number[];
  sumMs: number;
  count: number;
}

/** Counters of one registered colour. */
export interface RouterColorStats {
  color: Color;
  version: string;
  deploymentId: string | null;
  /** Share of new clients it gets now, in percent. */
  weight: number;
  /** When its target was registered (ISO 8601): the counters start there. */
  since: string;
  /** Requests dispatched to it. */
  requests: number;
  inFlight: number;
  /** Responses by class; `failed` are the 502/504 the router answered because the app did not. */
  responses: Record<ResponseClass, number>;
  /** Time from dispatch to the app's response headers. */
  latency: RouterLatencyHistogram;
}

/** Counters of one instance, per registered colour. */
export interface RouterInstanceStats {
  instance: string;
  /** When the snapshot was taken (ISO 8601); two snapshots give rates. */
  at: string;
  active: Color | null;
  colors: RouterColorStats[];
}
