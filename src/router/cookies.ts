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
