// The host names a TLS certificate may be given for (issue 21): lowercase DNS labels (RFC 1123),
// at most 253 characters, a wildcard only as the whole first label (`*.example.com`: RFC 6125
// §6.4.3 is looser, but browsers honour only that form). `tls set` and the router's certificate
// set both check it, so a name one accepts the other serves.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}$`);

/** Why `host` cannot have a certificate, or undefined. */
export function certificateHostProblem(host: string): string | undefined {
  if (host.length === 0 || host.length > 253) return 'must be 1 to 253 characters';
  if (!HOST_NAME.test(host)) return 'must be a lowercase DNS name (letters, digits, hyphens, dots), optionally starting with `*.`';
  return undefined;
}
