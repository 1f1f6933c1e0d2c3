// The router's own endpoints under `/.well-known/cutover/` on every routed host: the version
// (JSON or SSE), the browser helper, and the preview link. Never proxied.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { COOKIE_ATTRIBUTES, cookieSafe, PREVIEW_COOKIE } from './cookies.ts';
import { METHOD_NOT_ALLOWED, PREVIEW_DENIED, sendError, unknownEndpoint } from './error-response.ts';
import type { RoutedInstance } from './routed-instance.ts';
import { previewSlot, previewTokenMatches, queryParam } from './route-decision.ts';
import type { RouteDecision } from './route-decision.ts';
import type { Upstream } from './upstream.ts';
import {
  sendVersion,
  sendVersionScript,
  VERSION_PATH,
  VERSION_SCRIPT_PATH,
  wantsEventStream,
} from './version-signal.ts';
import type { VersionHub, VersionInfo, VersionStream } from './version-signal.ts';

/** `Set-Cookie` pair that removes the preview cookie. */
export const CLEAR_PREVIEW: readonly string[] = [
  'set-cookie',
  `${PREVIEW_COOKIE}=${COOKIE_ATTRIBUTES}; Max-Age=0`,
];

/** The request target without its query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** What the version endpoint says about `upstream` of `instance`. */
export function versionInfo(instance: RoutedInstance, upstream: Upstream): VersionInfo {
  return {
    instance: instance.name,
    version: upstream.version,
    deploymentId: upstream.deploymentId ?? null,
    color: upstream.color,
    flippedAt: instance.flipped ? new Date(instance.flippedAt).toISOString() : null,
  };
}

/**
 * The version a stream reports after a change: the preview colour for a preview stream, the
 * pinned colour while its shift goes on, else the active one (null: nothing serves, skip).
 */
export function streamVersion(instance: RoutedInstance, stream: VersionStream): VersionInfo | null {
  let upstream: Upstream | null = instance.active;
  if (stream.follows === 'preview') upstream = previewSlot(instance);
  else if (stream.follows !== 'active') {
    const pinned = instance.slot(stream.follows);
    if (instance.shiftTo !== null && pinned !== null && instance.serving(pinned)) upstream = pinned;
    else if (instance.shiftTo === null) stream.follows = 'active';
  }
  return upstream === null ? null : versionInfo(instance, upstream);
}

/** Answers `/.well-known/cutover/version[.js]` for a request routed (by `decision`) to `upstream`. */
export function answerWellKnown(
  hub: VersionHub<RoutedInstance>,
  instance: RoutedInstance,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  upstream: Upstream,
  decision: RouteDecision<Upstream>,
): void {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) return sendError(res, METHOD_NOT_ALLOWED);
  if (path === VERSION_SCRIPT_PATH) return sendVersionScript(res, head);
  if (path !== VERSION_PATH) return sendError(res, unknownEndpoint(path));
  const info = versionInfo(instance, upstream);
  // A client assigned a colour here keeps it on its next page load.
  const extra = decision.assigned ? upstream.stickyHeaders : upstream.responseHeaders;
  if (head || !wantsEventStream(req.headers.accept)) return sendVersion(res, info, head, extra);
  const follows = decision.preview ? 'preview' : instance.shiftTo !== null ? upstream.color : 'active';
  hub.open(instance, res, follows, info, extra);
}

/** `/.well-known/cutover/preview?token=…`: sets the preview cookie (an empty token clears it), then `/`. */
export function previewLogin(
  instance: RoutedInstance,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, METHOD_NOT_ALLOWED);
  const token = queryParam(url, 'token');
  let cookie: string;
  if (token === '') cookie = CLEAR_PREVIEW[1] as string;
  else if (instance.previewDigest !== null && previewTokenMatches(token, instance.previewDigest)) {
    cookie = `${PREVIEW_COOKIE}=${cookieSafe(token)}${COOKIE_ATTRIBUTES}`;
  } else return sendError(res, PREVIEW_DENIED);
  res.writeHead(303, [
    'location',
    '/',
    'set-cookie',
    cookie,
    'cache-control',
    'no-store',
    'content-length',
    '0',
  ]);
  res.end();
}
