// Which colour serves a request: the router's routing rules as one function over plain data, so
// they can be tested exhaustively without sockets. It runs on every request, so it allocates
// nothing on the common path (no preview, no shift, no deployment id): it writes into a reused
// `RouteDecision` and reads facts from the reused `RequestScan`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock, Color } from '../shared/index.ts';
import { COOKIE_PREFIX, cookieValue, DEPLOYMENT_COOKIE, PREVIEW_COOKIE } from './cookies.ts';
import type { RequestScan } from './headers.ts';

/**
 * What the routing rules need to know about one registered colour. What a client carries (the
 * sticky cookie, a skew id) names the release version, never the colour: behind an outside load
 * balancer a client moves between machines, and each machine may hold that version in another
 * colour (issue 18). Each router resolves the version to its own colour.
 */
export interface RoutableSlot {
  readonly color: Color;
  /** The release version the colour runs. */
  readonly version: string;
  readonly deploymentId: string | undefined;
  /** Sticky cookie value naming this colour's version (see `Upstream.stickyValue`). */
  readonly stickyValue: string;
  /**
   * The sticky value Cutover wrote before issue 18 (`<color>.<deploymentId>`), honoured for one
   * release so a client pinned before the upgrade keeps its colour. It goes in the next version.
   */
  readonly legacyStickyValue: string;
}

/** True when a skew id (header, query or cookie) names `slot`: its version, or its deployment id. */
export function namesSlot(id: string, slot: RoutableSlot): boolean {
  return id === slot.version || id === slot.deploymentId;
}

/**
 * Routes a sticky client during a shift: a value naming the version of `target` or `base` keeps
 * it; an old colour value too, and the cookie is written again with the version (`assigned`), so
 * the client keeps its version on the other machines from then on. False: no serving colour matched.
 */
function routeSticky<S extends RoutableSlot>(sticky: string, target: S, base: S, out: RouteDecision<S>): boolean {
  if (sticky === target.stickyValue) out.upstream = target;
  else if (sticky === base.stickyValue) out.upstream = base;
  else {
    if (sticky === target.legacyStickyValue) out.upstream = target;
    else if (sticky === base.legacyStickyValue) out.upstream = base;
    else return false;
    out.assigned = true;
  }
  return true;
}

/** What the routing rules need to know about one instance. `shiftCredit` is updated by `decideRoute`. */
export interface RoutableInstance<S extends RoutableSlot> {
  /** The colour everyone gets; during a weighted shift, the colour being shifted away from. */
  active: S | null;
  blue: S | null;
  green: S | null;
  /** During a weighted shift: the colour new clients are moved to, `shiftWeight` % of them. */
  shiftTo: S | null;
  /** 1–99 while `shiftTo` is set. */
  shiftWeight: number;
  /** Smooth weighted round-robin accumulator: exact proportions, no randomness. */
  shiftCredit: number;
  /** The colour that was active before the last flip (skew protection serves it during the grace). */
  previous: S | null;
  /** When `active` last changed colour (ms since the epoch, `Clock.now()`). */
  flippedAt: number;
  /** The last colour that was active, kept while none is (so the preview knows which is idle). */
  lastActive: Color | null;
  /** SHA-256 of the preview token, or null when the preview route is closed. */
  previewDigest: Buffer | null;
  /** Name of the instance's sticky cookie. */
  readonly stickyCookie: string;
}

/** What `decideRoute` concluded; `RouteDecision.outcome` holds one of these. */
export const OUTCOME = {
  /** Route to `RouteDecision.upstream`. */
  ROUTE: 0,
  /** A preview token was presented and it is wrong (or previews are closed): 403, never routed. */
  PREVIEW_DENIED: 1,
  /** The preview token is right but the idle colour is not registered: 503. */
  NO_PREVIEW_SLOT: 2,
  /** No colour is active: hold the request (pause) or answer 503. */
  NO_ACTIVE: 3,
} as const;

/** One of `OUTCOME`'s values. */
export type Outcome = (typeof OUTCOME)[keyof typeof OUTCOME];

/** Output of `decideRoute`; one instance is reused by every request. */
export class RouteDecision<S extends RoutableSlot> {
  outcome: Outcome = OUTCOME.ROUTE;
  upstream: S | null = null;
  /** The client sent a deployment id that is no longer served: answer with `x-cutover-reload: 1`. */
  reload = false;
  /** The client was just assigned a colour in a weighted shift: set the sticky cookie. */
  assigned = false;
  /** The request came through the preview route. */
  preview = false;
}

/** SHA-256 digest of a preview token, as stored in `RoutableInstance.previewDigest`. */
export function previewDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Constant-time check of a presented token (hashing first makes the lengths equal). */
export function previewTokenMatches(presented: string, digest: Buffer): boolean {
  return timingSafeEqual(previewDigest(presented), digest);
}

function decoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Value of query parameter `name` in a request target (percent-decoded), or '' when absent. */
export function queryParam(url: string, name: string): string {
  const from = url.indexOf('?');
  if (from === -1) return '';
  let at = url.indexOf(name, from);
  while (at !== -1) {
    const before = url.charCodeAt(at - 1);
    const eq = at + name.length;
    if ((before === 63 /* ? */ || before === 38) /* & */ && url.charCodeAt(eq) === 61 /* = */) {
      let end = url.indexOf('&', eq + 1);
      const hash = url.indexOf('#', eq + 1);
      if (end === -1 || (hash !== -1 && hash < end)) end = hash === -1 ? url.length : hash;
      return decoded(url.slice(eq + 1, end));
    }
    at = url.indexOf(name, at + 1);
  }
  return '';
}

/**
 * Fills the routing facts of `scan` (preview token, sticky cookie, skew id) from its headers and
 * the request target. The skew id (a version or a deployment id, see `namesSlot`) comes from
 * `x-deployment-id`, else `?dpl=`, else the `cutover_dpl` cookie (the explicit beats the ambient). The Cookie header is only parsed when it
 * mentions `cutover_`.
 */
export function readRoutingFacts(scan: RequestScan, url: string, stickyCookie: string): void {
  const cookie = scan.cookie;
  let preview = scan.previewHeader;
  let fromCookie = false;
  let sticky = '';
  let deploymentCookie = '';
  if (cookie !== '' && cookie.includes(COOKIE_PREFIX)) {
    deploymentCookie = cookieValue(cookie, DEPLOYMENT_COOKIE);
    sticky = cookieValue(cookie, stickyCookie);
    if (preview === '') {
      preview = decoded(cookieValue(cookie, PREVIEW_COOKIE));
      fromCookie = preview !== '';
    }
  }
  let deployment = scan.deploymentHeader;
  if (deployment === '') {
    deployment = queryParam(url, 'dpl');
    if (deployment === '' && deploymentCookie !== '') deployment = decoded(deploymentCookie);
  }
  scan.preview = preview;
  scan.previewFromCookie = fromCookie;
  scan.sticky = sticky;
  scan.deployment = deployment;
  scan.deploymentCookie = deploymentCookie;
}

/** The colour the preview route serves: the one that is not (or was not last) active, or being shifted to. */
export function previewSlot<S extends RoutableSlot>(instance: RoutableInstance<S>): S | null {
  if (instance.shiftTo !== null) return instance.shiftTo;
  const reference = instance.active?.color ?? instance.lastActive;
  if (reference === 'blue') return instance.green;
  if (reference === 'green') return instance.blue;
  return instance.green ?? instance.blue;
}

/**
 * Decides where a request goes, in this order:
 * 1. a preview token (header or cookie): right → the idle colour (`previewSlot`); wrong → denied;
 * 2. no active colour → `OUTCOME.NO_ACTIVE`;
 * 3. during a weighted shift: a sticky cookie naming the version of one of the two serving colours
 *    (or, from before the upgrade, its colour and deployment id) keeps it; else a skew id naming
 *    one of them picks it; else the client is assigned by weight (and must get the sticky cookie);
 * 4. skew protection: a skew id (a version or a deployment id) of the previously active colour is
 *    served by it while it is registered and `now - flippedAt < skewGraceMs`; any id that names
 *    neither it nor the active colour gets the active colour with `reload` set;
 * 5. the active colour.
 * `versionOnly` (the version endpoint) skips the deployment id: it must tell an old page the truth.
 */
export function decideRoute<S extends RoutableSlot>(
  instance: RoutableInstance<S>,
  scan: RequestScan,
  clock: Clock,
  skewGraceMs: number,
  versionOnly: boolean,
  out: RouteDecision<S>,
): void {
  out.outcome = OUTCOME.ROUTE;
  out.upstream = null;
  out.reload = false;
  out.assigned = false;
  out.preview = false;
  if (scan.preview !== '') {
    const digest = instance.previewDigest;
    if (digest === null || !previewTokenMatches(scan.preview, digest)) {
      out.outcome = OUTCOME.PREVIEW_DENIED;
      return;
    }
    out.preview = true;
    out.upstream = previewSlot(instance);
    if (out.upstream === null) out.outcome = OUTCOME.NO_PREVIEW_SLOT;
    return;
  }
  const base = instance.active;
  if (base === null) {
    out.outcome = OUTCOME.NO_ACTIVE;
    return;
  }
  const target = instance.shiftTo;
  const deployment = versionOnly ? '' : scan.deployment;
  if (target !== null) {
    if (scan.sticky !== '' && routeSticky(scan.sticky, target, base, out)) return;
    // A sticky value naming a version no colour holds here counts as none: the client is re-stuck.
    out.assigned = true;
    if (deployment !== '') {
      if (namesSlot(deployment, target)) {
        out.upstream = target;
        return;
      }
      if (namesSlot(deployment, base)) {
        out.upstream = base;
        return;
      }
    }
    instance.shiftCredit += instance.shiftWeight;
    if (instance.shiftCredit >= 100) {
      instance.shiftCredit -= 100;
      out.upstream = target;
    } else out.upstream = base;
    return;
  }
  out.upstream = base;
  if (deployment === '' || base.deploymentId === undefined || namesSlot(deployment, base)) return;
  const previous = instance.previous;
  if (
    previous !== null &&
    namesSlot(deployment, previous) &&
    (previous.color === 'blue' ? instance.blue : instance.green) === previous &&
    clock.now() - instance.flippedAt < skewGraceMs
  ) {
    out.upstream = previous;
    return;
  }
  out.reload = true;
}
