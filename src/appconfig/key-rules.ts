// The rules every app-config key and plain value obey, at every layer (CLI, API, store input,
// release manifest). Messages never quote a value: they end up in logs and audit entries.

/** POSIX portable environment names (IEEE Std 1003.1, 8.1): letters, digits, `_`, not a leading digit. */
const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names the supervisor sets itself: a layer that set them would be silently overridden, or worse, win. */
const RESERVED = new Set(['PORT', 'APP_VERSION']);
export const KEY_MAX_BYTES = 256;
export const VALUE_MAX_BYTES = 32 * 1024;

/** Why `key` cannot be an app-config key, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'is empty; give a variable name such as DATABASE_URL';
  if (key.includes('\0')) return 'contains a NUL byte; variable names cannot';
  if (Buffer.byteLength(key) > KEY_MAX_BYTES) return `is longer than ${KEY_MAX_BYTES} bytes`;
  if (!KEY_NAME.test(key)) return 'is not a valid variable name (letters, digits and "_", not starting with a digit)';
  if (RESERVED.has(key) || key.startsWith('CUTOVER_')) return 'is reserved: Cutover sets PORT, APP_VERSION and CUTOVER_* itself';
  return undefined;
}

/** Why `value` cannot be stored (as plain, or as a secret when `secret`), or undefined. */
export function valueProblem(value: string, secret: boolean): string | undefined {
  if (value.includes('\0')) return 'contains a NUL byte, which an environment variable cannot hold';
  if (Buffer.byteLength(value) > VALUE_MAX_BYTES) return `is longer than ${VALUE_MAX_BYTES} bytes`;
  if (!secret && hasUrlPassword(value)) {
    return 'looks like a URL with a password; store it with `cutover secret set` so it is encrypted and never shown';
  }
  return undefined;
}

// scheme://user:password@host — the userinfo part with a colon and something after it (RFC 3986 §3.2.1).
const URL_WITH_PASSWORD = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\s:]*:[^/?#@\s]+@/;

/** Whether a value holds a URL whose userinfo carries a password (anywhere in it: DSNs are often embedded). */
export function hasUrlPassword(value: string): boolean {
  return URL_WITH_PASSWORD.test(value);
}

/**
 * A value read with `--from-file` or from stdin: exactly one trailing newline (`\n` or `\r\n`) is
 * dropped, as `echo value > file` and editors add one; a second one was meant.
 */
export function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}
