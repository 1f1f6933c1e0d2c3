// Cookie names and values the router reads and writes (RFC 6265). Reading is a substring search
// on the raw Cookie header, done only when that header mentions `cutover_` at all.

/** Holds the preview token for people trying the idle colour in a browser. */
export const PREVIEW_COOKIE = 'cutover_preview';
/** Holds the deployment id of the page a browser loaded (skew protection). */
export const DEPLOYMENT_COOKIE = 'cutover_dpl';
/** Every cookie the router reads starts with this; requests without it skip cookie parsing. */
export const COOKIE_PREFIX = 'cutover_';

/** Attributes of every cookie the router sets: whole site, not readable by scripts, sent on navigation. */
export const COOKIE_ATTRIBUTES = '; Path=/; HttpOnly; SameSite=Lax';

/**
 * Name of the cookie that pins a client to a colour during a weighted shift of `instance`
 * (`cutover_sticky_<instance>`, with characters a cookie name cannot hold replaced by `_`).
 */
export function stickyCookieName(instance: string): string {
  return `cutover_sticky_${instance.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** Encodes a value so it is a valid cookie-octet sequence (no space, quote, comma, semicolon, backslash). */
export function cookieSafe(value: string): string {
  return encodeURIComponent(value);
}

function isSeparator(code: number): boolean {
  return code === 59 /* ; */ || code === 32 /* space */ || code === 9;
}

/**
 * The raw value of cookie `name` in a Cookie header (several headers are joined with `; `), or ''
 * when absent. Values are returned as sent (still encoded), so callers compare them with encoded
 * values and never decode on the request path.
 */
export function cookieValue(header: string, name: string): string {
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at === -1) return '';
    const eq = at + name.length;
    if ((at === 0 || isSeparator(header.charCodeAt(at - 1))) && header.charCodeAt(eq) === 61 /* = */) {
      let end = header.indexOf(';', eq + 1);
      if (end === -1) end = header.length;
      return header.slice(eq + 1, end).trim();
    }
    from = at + 1;
  }
}

/**
 * The Cookie header without any `name=…` pair (RFC 6265 §4.2.1: pairs separated by `; `). The other
 * pairs are kept byte for byte; '' when nothing else is left. Callers check `header.includes(name)`
 * first, so a request without that cookie pays one substring search and allocates nothing.
 */
export function withoutCookie(header: string, name: string): string {
  let out = header;
  let from = 0;
  for (;;) {
    const at = out.indexOf(name, from);
    if (at === -1) return out;
    if (
      (at !== 0 && !isSeparator(out.charCodeAt(at - 1))) ||
      out.charCodeAt(at + name.length) !== 61 /* = */
    ) {
      from = at + 1;
      continue;
    }
    const semi = out.indexOf(';', at + name.length);
    if (semi !== -1) {
      // Not the last pair: drop it with the `; ` that follows, so the next pair takes its place.
      let next = semi + 1;
      while (next < out.length && (out.charCodeAt(next) === 32 || out.charCodeAt(next) === 9)) next++;
      out = out.slice(0, at) + out.slice(next);
      from = at;
    } else {
      // The last pair: drop it with the `; ` before it.
      let start = at;
      while (start > 0 && isSeparator(out.charCodeAt(start - 1))) start--;
      return out.slice(0, start);
    }
  }
}
