// A strict parser of client request heads for the router's fast path (issue 24, ADR 0030). It
// accepts only a plain subset of HTTP/1.1 (RFC 9112) and says "hand off" for everything else, so
// node:http's llhttp keeps deciding every unusual or hostile message: the parser never has to be
// lenient, never guesses, and never answers an error itself. Within the subset it must yield
// exactly what llhttp yields (the differential test, request-head-parser.test.ts, checks it).
// What it accepts:
//   request-line = method SP origin-form SP ( "HTTP/1.1" / "HTTP/1.0" ) CRLF
//   method       = GET / HEAD / POST / PUT / PATCH / DELETE / OPTIONS
//   origin-form  = "/" followed by unreserved, sub-delims, ":", "@", "/", "?", "%" only
//   field-line   = token ":" *( SP / HTAB ) [ value ] CRLF, value = visible ASCII and inner SP/HTAB,
//                  not ending in whitespace
// and exactly one Host, at most one Content-Length (1–15 digits), Connection only `keep-alive` or
// `close`, no Transfer-Encoding, TE, Upgrade, Expect or
// Proxy-Connection, at most MAX_FIELDS fields in MAX_HEAD_BYTES.
// Bare LF, CR without LF, obs-fold, whitespace before a colon, NUL, controls and bytes ≥ 0x80 all
// hand off.

/** Not a whole head yet: wait for more bytes. */
export const HEAD_INCOMPLETE = -1;
/** Outside the strict subset: node:http must parse it (and decide what is wrong with it, if anything). */
export const HEAD_HAND_OFF = -2;

/** Heads larger than this hand off (node:http's own limit is 16 KiB, so it still decides). */
export const MAX_HEAD_BYTES = 8 * 1024;
/** More header fields than this hand off (node:http keeps up to 2,000). */
export const MAX_FIELDS = 64;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const LONGEST_METHOD = 7;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

function table(chars: string, ranges: Array<[number, number]> = []): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  for (const [from, to] of ranges) for (let c = from; c <= to; c++) t[c] = 1;
  return t;
}

const ALNUM: Array<[number, number]> = [
  [48, 57],
  [65, 90],
  [97, 122],
];
/** tchar (RFC 9110 §5.6.2). */
const TOKEN = table("!#$%&'*+-.^_`|~", ALNUM);
/** pchar (RFC 3986 §3.3) plus "/" and "?"; "%" passes as is (the app decodes it). */
const TARGET = table("-._~!$&'()*+,;=:@/?%", ALNUM);
/** Visible ASCII, SP and HTAB: field-content without obs-text. */
const VALUE = table('\t', [[32, 126]]);

/** One parsed request head. Reused: `parseRequestHead` overwrites every field. */
export class RequestHead {
  method = '';
  /** The request target, origin-form, as sent. */
  target = '';
  /** HTTP/1.0 (else HTTP/1.1). */
  http10 = false;
  /** Header fields as [name, value, …], names as sent (node:http's `rawHeaders`). */
  headers: string[] = [];
  /** Declared Content-Length, 0 without one. */
  contentLength = 0;
  /** Whether the connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive = true;
}

function lower(buf: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses the request head starting at `buf[start]` (bytes up to `end`). Returns the offset just
 * after the head's empty line with `out` filled, `HEAD_INCOMPLETE`, or `HEAD_HAND_OFF`.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, out: RequestHead): number {
  const limit = Math.min(end, start + MAX_HEAD_BYTES);
  const incomplete = end - start >= MAX_HEAD_BYTES ? HEAD_HAND_OFF : HEAD_INCOMPLETE;
  let i = start;
  // Method.
  while (i < limit && buf[i] !== SP) {
    if (i - start >= LONGEST_METHOD) return HEAD_HAND_OFF;
    i++;
  }
  if (i >= limit) return i - start > LONGEST_METHOD ? HEAD_HAND_OFF : incomplete;
  const method = buf.toString('latin1', start, i);
  if (!METHODS.has(method)) return HEAD_HAND_OFF;
  // Target.
  const targetStart = ++i;
  if (i < limit && buf[i] !== 47 /* / */) return HEAD_HAND_OFF;
  while (i < limit && TARGET[buf[i] as number] === 1) i++;
  if (i >= limit) return incomplete;
  if (buf[i] !== SP) return HEAD_HAND_OFF;
  const target = buf.toString('latin1', targetStart, i);
  // Version and CRLF: "HTTP/1.x\r\n".
  i++;
  const version = 'HTTP/1.';
  for (let k = 0; k < version.length; k++, i++) {
    if (i >= limit) return incomplete;
    if (buf[i] !== version.charCodeAt(k)) return HEAD_HAND_OFF;
  }
  if (i >= limit) return incomplete;
  const minor = buf[i++];
  if (minor !== 48 && minor !== 49) return HEAD_HAND_OFF;
  if (i >= limit) return incomplete;
  if (buf[i++] !== CR) return HEAD_HAND_OFF;
  if (i >= limit) return incomplete;
  if (buf[i++] !== LF) return HEAD_HAND_OFF;
  return parseFields(buf, i, limit, incomplete, out, method, target, minor === 48);
}

function parseFields(
  buf: Buffer,
  from: number,
  limit: number,
  incomplete: number,
  out: RequestHead,
  method: string,
  target: string,
  http10: boolean,
): number {
  const headers: string[] = [];
  let hosts = 0;
  let contentLength = -1;
  let connection = 0; // 0: none, 1: keep-alive, 2: close
  let i = from;
  for (;;) {
    if (i >= limit) return incomplete;
    if (buf[i] === CR) {
      if (i + 1 >= limit) return incomplete;
      if (buf[i + 1] !== LF) return HEAD_HAND_OFF;
      i += 2;
      break;
    }
    if (headers.length >= MAX_FIELDS * 2) return HEAD_HAND_OFF;
    // Name: a token right up to the colon (whitespace there, obs-fold or bare LF hand off).
    const nameStart = i;
    while (i < limit && TOKEN[buf[i] as number] === 1) i++;
    if (i >= limit) return incomplete;
    if (buf[i] !== COLON || i === nameStart) return HEAD_HAND_OFF;
    const nameEnd = i++;
    while (i < limit && (buf[i] === SP || buf[i] === HTAB)) i++;
    const valueStart = i;
    while (i < limit && VALUE[buf[i] as number] === 1) i++;
    if (i + 1 >= limit) return incomplete;
    if (buf[i] !== CR || buf[i + 1] !== LF) return HEAD_HAND_OFF;
    const valueEnd = i;
    // Trailing whitespace would be trimmed by llhttp; rare enough to leave to it.
    if (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB))
      return HEAD_HAND_OFF;
    i += 2;
    const kind = fieldKind(buf, nameStart, nameEnd);
    if (kind === REFUSED) return HEAD_HAND_OFF;
    if (kind === HOST) hosts++;
    else if (kind === CONTENT_LENGTH) {
      if (contentLength !== -1) return HEAD_HAND_OFF;
      contentLength = digits(buf, valueStart, valueEnd);
      if (contentLength < 0) return HEAD_HAND_OFF;
    } else if (kind === CONNECTION) {
      if (connection !== 0) return HEAD_HAND_OFF;
      if (lower(buf, valueStart, valueEnd, 'keep-alive')) connection = 1;
      else if (lower(buf, valueStart, valueEnd, 'close')) connection = 2;
      else return HEAD_HAND_OFF;
    }
    headers.push(buf.toString('latin1', nameStart, nameEnd), buf.toString('latin1', valueStart, valueEnd));
  }
  if (hosts !== 1) return HEAD_HAND_OFF;
  out.method = method;
  out.target = target;
  out.http10 = http10;
  out.headers = headers;
  out.contentLength = contentLength === -1 ? 0 : contentLength;
  out.keepAlive = http10 ? connection === 1 : connection !== 2;
  return i;
}

const OTHER = 0;
const REFUSED = 1;
const HOST = 2;
const CONTENT_LENGTH = 3;
const CONNECTION = 4;

// Framing and protocol switches are node:http's to handle: chunked bodies, upgrades (WebSocket),
// 100-continue. Everything else is an ordinary field the router's header rewrite deals with.
function fieldKind(buf: Buffer, start: number, end: number): number {
  switch (end - start) {
    // node:http answers an HTTP/1.0 request with `TE: chunked` in chunks (found by the differential test).
    case 2:
      return lower(buf, start, end, 'te') ? REFUSED : OTHER;
    case 4:
      return lower(buf, start, end, 'host') ? HOST : OTHER;
    case 6:
      return lower(buf, start, end, 'expect') ? REFUSED : OTHER;
    case 7:
      return lower(buf, start, end, 'upgrade') ? REFUSED : OTHER;
    case 10:
      return lower(buf, start, end, 'connection') ? CONNECTION : OTHER;
    case 14:
      return lower(buf, start, end, 'content-length') ? CONTENT_LENGTH : OTHER;
    // llhttp reads `Proxy-Connection: close` as Connection (found by the differential test).
    case 16:
      return lower(buf, start, end, 'proxy-connection') ? REFUSED : OTHER;
    case 17:
      return lower(buf, start, end, 'transfer-encoding') ? REFUSED : OTHER;
    default:
      return OTHER;
  }
}

/** 1–15 decimal digits as a number, or -1. */
function digits(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
