import { CutoverError } from './errors.ts';

/**
 * What a join token's fingerprint pins: `cert`, the server's own certificate (renewing it breaks
 * the pin); `ca`, the CA that signed it (`tlsCa`: a certificate renewed by that CA keeps working).
 */
export type PinKind = 'cert' | 'ca';

/** What a join token carries: the secret the server checks, and how the agent finds and pins the server. */
export interface JoinTokenContent {
  /** 32 random bytes, base64url; the server keeps only its SHA-256. */
  secret: string;
  /** SHA-256 (DER, lowercase hex) of what `pin` names; null when the server has no TLS. */
  fingerprint: string | null;
  /** What `fingerprint` is the hash of. */
  pin: PinKind;
  /** The server URLs an agent may dial, in order. */
  urls: string[];
}

/** Recognisable to secret scanners, like API tokens' `cut_`. */
export const JOIN_TOKEN_PREFIX = 'cutj_';

/**
 * The join token an admin hands to a new machine: `cutj_` and the base64url of a JSON object,
 * `{ v: 1, s, f, u }` when it pins the server's certificate (as every token did before CA pins, so
 * agents of earlier versions still read it) and `{ v: 2, s, f, u, k: 'ca' }` when it pins a CA (an
 * earlier agent refuses it as invalid rather than mistaking the CA's hash for the certificate's).
 * Self-contained, so the agent's first contact needs nothing else: it dials one of `u` and accepts
 * only a certificate whose SHA-256 is `f`, or one that the CA whose SHA-256 is `f` signed (ADR 0021).
 */
export function encodeJoinToken(content: JoinTokenContent): string {
  const base = { s: content.secret, f: content.fingerprint, u: content.urls };
  const json = JSON.stringify(content.pin === 'ca' ? { v: 2, ...base, k: 'ca' } : { v: 1, ...base });
  return `${JOIN_TOKEN_PREFIX}${Buffer.from(json).toString('base64url')}`;
}

const invalid = () =>
  new CutoverError('JOIN_TOKEN_INVALID', 'this is not a Cutover join token (it starts with cutj_); create one with `cutover join-token create`');

/** The content of a join token; `JOIN_TOKEN_INVALID` for anything else (never echoing the text). */
export function parseJoinToken(token: string): JoinTokenContent {
  const text = token.trim();
  if (!text.startsWith(JOIN_TOKEN_PREFIX)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text.slice(JOIN_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const o = parsed as { v?: unknown; s?: unknown; f?: unknown; u?: unknown; k?: unknown } | null;
  const fingerprintOk = o?.f === null || (typeof o?.f === 'string' && /^[0-9a-f]{64}$/.test(o.f));
  const urlsOk = Array.isArray(o?.u) && o.u.length > 0 && o.u.every((u) => typeof u === 'string');
  // v1: a certificate pin (or none). v2: the kind is said, and a CA pin needs a fingerprint.
  const pin: PinKind | undefined = o?.v === 1 ? 'cert' : o?.v === 2 && (o.k === 'ca' || o.k === 'cert') ? o.k : undefined;
  if (!pin || typeof o?.s !== 'string' || o.s.length < 32 || !fingerprintOk || !urlsOk || (pin === 'ca' && o.f === null)) throw invalid();
  return { secret: o.s, fingerprint: o.f as string | null, pin, urls: o.u as string[] };
}
