import { PREVIEW_COOKIE, withoutCookie } from './cookies.ts';

// Header rewriting for the proxy hot path. Everything here runs once per request or response,
// so it walks raw header arrays once, switches on name length before lowercasing anything,
// and allocates only the output array.

/**
 * What `scanRequestHeaders` found besides the rewritten header list, plus the routing facts
 * `readRoutingFacts` (route-decision.ts) derives from it. One instance per router is reused by
 * every request (the request handler is synchronous); a request held for later gets a `copy()`.
 */
export class RequestScan {
  /** The Host header exactly as sent (empty when absent). */
  host = '';
  /** True when the request declares a body (Content-Length other than 0, or Transfer-Encoding). */
  hasBody = false;
  /** True when the body is sent without a length (Transfer-Encoding), so its size is only known by counting. */
  chunked = false;
  /** Declared Content-Length (-1 when absent). */
  contentLength = -1;
  /** Value of the Upgrade header (only meaningful for upgrade requests). */
  upgrade = '';
  /** Cookie header(s), joined with `; ` ('' when absent). */
  cookie = '';
  /** `x-cutover-preview` header ('' when absent); never forwarded to the app. */
  previewHeader = '';
  /** `x-deployment-id` header ('' when absent). */
  deploymentHeader = '';
  /** The scheme the client used as the router forwards it: `http`, `https`, or a trusted proxy's `X-Forwarded-Proto`. */
  proto = 'http';
  // Routing facts, filled by readRoutingFacts once the instance is known.
  /** Preview token presented by header or cookie ('' when none). */
  preview = '';
  /** True when `preview` came from the cookie (a stale cookie is cleared rather than refused forever). */
  previewFromCookie = false;
  /** Value of the instance's sticky cookie ('' when absent). */
  sticky = '';
  /** Skew id of the release the client says it runs, a version or a deployment id: header, else `?dpl=`, else cookie ('' when none). */
  deployment = '';
  /** Value of the `cutover_dpl` cookie ('' when absent), to know whether to refresh it. */
  deploymentCookie = '';

  /** A detached copy, for a request that waits (the shared instance is overwritten by the next one). */
  copy(): RequestScan {
    return Object.assign(new RequestScan(), this);
  }
}

const OTHER = 0;
const DROP = 1;
const HOST = 2;
const XFF = 3;
const CONNECTION = 4;
const CONTENT_LENGTH = 5;
const TRANSFER_ENCODING = 6;
const UPGRADE = 7;
const COOKIE = 8;
const DEPLOYMENT = 9;
const PREVIEW = 10;
const XFP = 11;
const XFH = 12;

/** `forwarding` bit of `scanRequestHeaders`: the request arrived over the router's TLS listener. */
export const FORWARD_TLS = 1;
/** `forwarding` bit: the peer is a trusted proxy, whose X-Forwarded-* are kept. */
export const FORWARD_TRUSTED = 2;

function is(name: string, lower: string): boolean {
  return name === lower || name.toLowerCase() === lower;
}

// Hop-by-hop fields (RFC 9110 §7.6.1) are dropped. Expect is dropped because the router answers
// `100-continue` itself once it knows the request will be forwarded (the upstream pool skips interim
// answers, so a 100 from the app would never reach the client). X-Forwarded-* are rebuilt by
// scanRequestHeaders: kept from a trusted proxy, replaced for everyone else. The preview token is
// a secret meant for the router only.
function requestHeaderKind(name: string): number {
  switch (name.length) {
    case 2:
      return is(name, 'te') ? DROP : OTHER;
    case 4:
      return is(name, 'host') ? HOST : OTHER;
    case 6: {
      if (name === 'cookie' || name === 'Cookie') return COOKIE;
      const l = name.toLowerCase();
      return l === 'cookie' ? COOKIE : l === 'expect' ? DROP : OTHER;
    }
    case 7: {
      const l = name.toLowerCase();
      return l === 'upgrade' ? UPGRADE : l === 'trailer' ? DROP : OTHER;
    }
    case 10: {
      const l = name.toLowerCase();
      return l === 'connection' ? CONNECTION : l === 'keep-alive' ? DROP : OTHER;
    }
    case 14:
      return is(name, 'content-length') ? CONTENT_LENGTH : OTHER;
    case 15: {
      const l = name.toLowerCase();
      return l === 'x-forwarded-for' ? XFF : l === 'x-deployment-id' ? DEPLOYMENT : OTHER;
    }
    case 16: {
      const l = name.toLowerCase();
      return l === 'x-forwarded-host' ? XFH : l === 'proxy-connection' ? DROP : OTHER;
    }
    case 17: {
      const l = name.toLowerCase();
      return l === 'transfer-encoding'
        ? TRANSFER_ENCODING
        : l === 'x-forwarded-proto'
          ? XFP
          : l === 'x-cutover-preview'
            ? PREVIEW
            : OTHER;
    }
    case 19:
      return is(name, 'proxy-authorization') ? DROP : OTHER;
    default:
      return OTHER;
  }
}

/**
 * Connection options that only govern this hop and name no header (RFC 9112 §9.6, RFC 6455 §4.1).
 * Anything else listed in Connection names a header that must be removed too.
 */
function listsExtraHeaders(connection: string): boolean {
  // Nearly every message says just `keep-alive` or `close`: answer that without splitting.
  if (connection.length <= 10) {
    const l = connection.toLowerCase();
    if (l === 'keep-alive' || l === 'close' || l === 'upgrade') return false;
  }
  const tokens = connection.split(',');
  for (let i = 0; i < tokens.length; i++) {
    const t = (tokens[i] as string).trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') return true;
  }
  return false;
}

// Fields a client's Connection header may never remove (M2): the router's routing and framing
// (Host, Content-Length, Transfer-Encoding) and the edge's own X-Forwarded-* facts. RFC 9110 §7.6.1
// lets a sender nominate extension fields only; these are not the client's to take away.
const PROTECTED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

function connectionTokens(connection: string, keep: ReadonlySet<string> | null): Set<string> {
  const set = new Set<string>();
  for (const token of connection.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '' && (keep === null || !keep.has(t))) set.add(t);
  }
  return set;
}

function withoutListed(headers: string[], listed: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (!listed.has(name.toLowerCase())) out.push(name, headers[i + 1] as string);
  }
  return out;
}

/**
 * Rewrites a client request's raw headers for the upstream: drops hop-by-hop fields (and the
 * client's own fields its Connection header lists, except Host, framing and X-Forwarded-*), keeps
 * Host, and builds X-Forwarded-*: from a trusted proxy (`FORWARD_TRUSTED` in `forwarding`) its
 * For (with the peer's address appended), Proto and Host are kept (ours where it sent none); from
 * anyone else they are replaced: For is the peer's address, Proto `https` on the TLS listener
 * (`FORWARD_TLS`) else `http`, Host the Host header. Fills `scan` with the Host and framing it saw.
 */
export function scanRequestHeaders(
  raw: string[],
  clientIp: string | undefined,
  scan: RequestScan,
  forwarding = 0,
): string[] {
  const out: string[] = [];
  let host = '';
  let hasBody = false;
  let xff = '';
  let connection = '';
  let upgrade = '';
  let chunked = false;
  let contentLength = -1;
  let cookie = '';
  let preview = '';
  let deployment = '';
  let xfp = '';
  let xfh = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (requestHeaderKind(name)) {
      case OTHER:
        out.push(name, value);
        break;
      case HOST:
        host = value;
        out.push(name, value);
        break;
      case CONTENT_LENGTH:
        if (value !== '0') {
          hasBody = true;
          contentLength = Number(value);
        } else contentLength = 0;
        out.push(name, value);
        break;
      case TRANSFER_ENCODING:
        // The upstream pool frames the body itself (chunked when it has no length).
        hasBody = true;
        chunked = true;
        break;
      case COOKIE: {
        cookie = cookie === '' ? value : `${cookie}; ${value}`;
        // The preview token is for the router only: an app that logs its cookies would put it in
        // slot logs, which viewers read (review L11). Routing reads it from `scan.cookie`.
        const kept = value.includes(PREVIEW_COOKIE) ? withoutCookie(value, PREVIEW_COOKIE) : value;
        if (kept !== '') out.push(name, kept);
        break;
      }
      case DEPLOYMENT:
        deployment = value;
        out.push(name, value);
        break;
      case PREVIEW:
        preview = value;
        break;
      case XFF:
        xff = xff === '' ? value : `${xff}, ${value}`;
        break;
      case XFP:
        if (xfp === '') xfp = value;
        break;
      case XFH:
        if (xfh === '') xfh = value;
        break;
      case CONNECTION:
        connection = connection === '' ? value : `${connection}, ${value}`;
        break;
      case UPGRADE:
        upgrade = value;
        break;
    }
  }
  // Nominated removal applies to the client's own fields only, so it runs before the router adds
  // its X-Forwarded-* (M2); nominations of PROTECTED names are ignored.
  let fields = out;
  if (connection !== '' && listsExtraHeaders(connection)) {
    const listed = connectionTokens(connection, PROTECTED);
    if (listed.size > 0) fields = withoutListed(out, listed);
  }
  // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`; forward the plain address.
  const ip =
    clientIp === undefined
      ? ''
      : clientIp.startsWith('::ffff:') && clientIp.includes('.')
        ? clientIp.slice(7)
        : clientIp;
  let proto = (forwarding & FORWARD_TLS) === 0 ? 'http' : 'https';
  if ((forwarding & FORWARD_TRUSTED) === 0) fields.push('x-forwarded-for', ip, 'x-forwarded-proto', proto, 'x-forwarded-host', host);
  else {
    if (xfp !== '') proto = xfp;
    fields.push('x-forwarded-for', xff === '' ? ip : `${xff}, ${ip}`, 'x-forwarded-proto', proto, 'x-forwarded-host', xfh === '' ? host : xfh);
  }
  scan.proto = proto;
  scan.host = host;
  scan.hasBody = hasBody;
  scan.chunked = chunked;
  // Node's parser rejects a request with both framings, so a chunked one never has a length here.
  scan.contentLength = contentLength;
  scan.upgrade = upgrade;
  scan.cookie = cookie;
  scan.previewHeader = preview;
  scan.deploymentHeader = deployment;
  return fields;
}

const RESPONSE_DROP = 1;
const RESPONSE_CONNECTION = 2;
const RESPONSE_UPGRADE = 3;
const RESPONSE_CONTENT_TYPE = 4;

// Besides hop-by-hop fields, the upstream's own X-App-Version/X-Deployment-Id are replaced by the
// router's, so a response never carries two different versions.
function responseHeaderKind(name: string): number {
  switch (name.length) {
    case 2:
      return is(name, 'te') ? RESPONSE_DROP : OTHER;
    case 7: {
      const l = name.toLowerCase();
      return l === 'upgrade' ? RESPONSE_UPGRADE : l === 'trailer' ? RESPONSE_DROP : OTHER;
    }
    case 10: {
      const l = name.toLowerCase();
      return l === 'connection' ? RESPONSE_CONNECTION : l === 'keep-alive' ? RESPONSE_DROP : OTHER;
    }
    case 12:
      return is(name, 'content-type') ? RESPONSE_CONTENT_TYPE : OTHER;
    case 13:
      return is(name, 'x-app-version') ? RESPONSE_DROP : OTHER;
    case 15:
      return is(name, 'x-deployment-id') ? RESPONSE_DROP : OTHER;
    case 16:
      return is(name, 'proxy-connection') ? RESPONSE_DROP : OTHER;
    case 17:
      return is(name, 'transfer-encoding') ? RESPONSE_DROP : OTHER;
    case 18:
      return is(name, 'proxy-authenticate') ? RESPONSE_DROP : OTHER;
    default:
      return OTHER;
  }
}

function isHtml(contentType: string): boolean {
  if (contentType.startsWith('text/html')) return true;
  // Rare spellings (`Text/HTML`, `text/HTML`) pay for a lowercase copy; other types do not.
  return (
    (contentType.charCodeAt(0) === 84 || contentType.charCodeAt(5) === 72) &&
    contentType.slice(0, 9).toLowerCase() === 'text/html'
  );
}

/**
 * Filters the app's response header fields (latin1 strings, as sent) into a flat list for
 * `res.writeHead`, dropping hop-by-hop fields and appending `extra` (the slot's version headers,
 * maybe a cookie), and `htmlExtra` too when the response is an HTML page.
 * With `keepUpgrade` (a 101 answer) Connection and Upgrade are kept: they are the handshake.
 */
export function responseHeaders(
  raw: string[],
  extra: readonly string[],
  htmlExtra: readonly string[] | null,
  keepUpgrade = false,
): string[] {
  const out: string[] = [];
  let connection = '';
  let html = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const kind = responseHeaderKind(name);
    if (kind === OTHER) {
      out.push(name, raw[i + 1] as string);
    } else if (kind === RESPONSE_CONTENT_TYPE) {
      const value = raw[i + 1] as string;
      if (htmlExtra !== null && isHtml(value)) html = true;
      out.push(name, value);
    } else if (kind === RESPONSE_CONNECTION) {
      const value = raw[i + 1] as string;
      connection = connection === '' ? value : `${connection}, ${value}`;
      if (keepUpgrade) out.push(name, value);
    } else if (kind === RESPONSE_UPGRADE && keepUpgrade) {
      out.push(name, raw[i + 1] as string);
    }
  }
  // As for requests: the app's nominations remove its own fields, never the router's extras.
  let fields = out;
  if (connection !== '' && listsExtraHeaders(connection)) {
    fields = withoutListed(out, connectionTokens(connection, null));
  }
  for (let i = 0; i < extra.length; i++) fields.push(extra[i] as string);
  if (html && htmlExtra !== null)
    for (let i = 0; i < htmlExtra.length; i++) fields.push(htmlExtra[i] as string);
  return fields;
}

/**
 * Host header → the key instances are registered under: lowercase, without `:port`, without a
 * trailing dot. IPv6 literals keep their brackets (`[::1]:8080` → `[::1]`).
 */
export function normaliseHost(raw: string): string {
  let end = raw.length;
  const colon = raw.lastIndexOf(':');
  if (colon !== -1 && raw.lastIndexOf(']') < colon) end = colon;
  if (end > 0 && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  return raw.slice(0, end).trim().toLowerCase();
}
