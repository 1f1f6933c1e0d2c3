import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CidrSet } from './cidr.ts';
import { proxiedClientOf } from './proxy-listener.ts';
import { FORWARD_TLS, FORWARD_TRUSTED, normaliseHost } from './headers.ts';
import { READY_PATH } from './readiness.ts';
import type { RouterOptions } from './router-types.ts';

// What the edge knows about a client connection, decided once per connection: whether it came
// over TLS, and whether its peer is a trusted proxy (whose X-Forwarded-* are kept).

const FORWARDING = Symbol('cutover.forwarding');
const CLIENT = Symbol('cutover.client');
type MarkedSocket = Socket & { [FORWARDING]?: number; [CLIENT]?: string | undefined };

/**
 * The connection's forwarding bits (`FORWARD_TLS`, `FORWARD_TRUSTED`), computed on its first
 * request and kept on the socket with its client address: the CIDR match runs once per
 * connection, not per request. The client is the one a PROXY header named, else the peer.
 */
export function forwardingOf(socket: Socket, trusted: CidrSet | null): number {
  const marked = socket as MarkedSocket;
  let bits = marked[FORWARDING];
  if (bits === undefined) {
    bits = (socket as TLSSocket).encrypted === true ? FORWARD_TLS : 0;
    const ip = proxiedClientOf(socket) ?? socket.remoteAddress;
    if (trusted !== null && ip !== undefined && trusted.has(ip)) bits |= FORWARD_TRUSTED;
    marked[FORWARDING] = bits;
    marked[CLIENT] = ip;
  }
  return bits;
}

/** The client address `forwardingOf` settled on for this connection (call that first). */
export function clientAddressOf(socket: Socket): string | undefined {
  return (socket as MarkedSocket)[CLIENT];
}

const ACME_PREFIX = '/.well-known/acme-challenge/';

/**
 * Whether a plain-HTTP request must not be redirected to HTTPS: the ready check (load balancers
 * probe over HTTP) and ACME HTTP-01 challenges (RFC 8555 §8.3: the CA fetches them over port 80).
 */
export function keepsHttp(url: string): boolean {
  if (url.charCodeAt(1) !== 46 /* . */) return false;
  if (url.startsWith(ACME_PREFIX)) return true;
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)) === READY_PATH;
}

/**
 * Where a plain request to `host` goes: `https://<host without its port>[:<httpsPort>]<url>`.
 * The port is left out when it is 443 or unknown (the TLS side is elsewhere).
 */
export function redirectLocation(host: string, url: string, httpsPort: number | null): string {
  const name = normaliseHost(host);
  const port = httpsPort === null || httpsPort === 443 ? '' : `:${httpsPort}`;
  return `https://${name}${port}${url}`;
}

/** One year, as most HSTS deployments and preload lists expect. */
export const HSTS_DEFAULT_MAX_AGE = 31_536_000;

/** The `Strict-Transport-Security` value for the option, or null when off (RFC 6797 §6.1). */
export function hstsValue(hsts: RouterOptions['hsts']): string | null {
  if (hsts === undefined || hsts === false) return null;
  if (hsts === true) return `max-age=${HSTS_DEFAULT_MAX_AGE}`;
  return `max-age=${hsts.maxAgeSeconds}${hsts.includeSubDomains === true ? '; includeSubDomains' : ''}`;
}
