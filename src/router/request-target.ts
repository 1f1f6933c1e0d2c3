// Absolute-form request targets (`GET http://host/path HTTP/1.1`, RFC 9112 §3.2.2). Origin
// servers must accept them, but apps build URLs with `new URL(req.url, base)`, which takes the
// authority from an absolute target: so the router forwards origin-form only, and refuses a
// target whose authority is not the Host it routed by (L3).
import { normaliseHost } from './headers.ts';

const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/i;

function portOf(authority: string, scheme: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon !== -1 && authority.lastIndexOf(']') < colon && colon < authority.length - 1) {
    return authority.slice(colon + 1);
  }
  return scheme === 'https' ? '443' : '80';
}

/**
 * Origin-form of `target` for a request whose Host header is `host`, or null when it must be
 * refused with 400: an absolute-form target with another authority than Host (name or port,
 * a missing port meaning the scheme's default), with userinfo, or any other form that is not
 * origin-form or `*`. Only called when the target does not start with `/` (rare).
 */
export function originForm(target: string, host: string): string | null {
  if (target === '*') return target;
  const m = ABSOLUTE.exec(target);
  if (m === null) return null;
  const scheme = (m[1] as string).toLowerCase();
  const authority = m[2] as string;
  const rest = m[3] as string;
  if (authority === '' || authority.includes('@') || host === '') return null;
  if (normaliseHost(authority) !== normaliseHost(host)) return null;
  if (portOf(authority, scheme) !== portOf(host, scheme)) return null;
  // A fragment is never part of a request target; drop one a client sent anyway.
  const hash = rest.indexOf('#');
  const pathAndQuery = hash === -1 ? rest : rest.slice(0, hash);
  return pathAndQuery === '' || pathAndQuery.charCodeAt(0) === 63 /* ? */ ? `/${pathAndQuery}` : pathAndQuery;
}
