import { parseIpv4, parseIpv6 } from './cidr.ts';

// The PROXY protocol (HAProxy's spec, versions 1 and 2): a load balancer that forwards TCP (TLS
// included, untouched) says who the client is in a header before the client's bytes. Parsed
// strictly: anything that is not exactly a header ends the connection.

/** What a PROXY header says. `local`: the balancer's own connection (a health check), no client. */
export type ProxyHeader =
  | { command: 'proxy'; source: string; sourcePort: number; destination: string; destinationPort: number }
  | { command: 'local' };

export type ProxyParse =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  | { status: 'done'; header: ProxyHeader; length: number };

/** Longest v1 header, CRLF included (spec §2.1). */
export const V1_MAX = 107;
/** The v2 signature (spec §2.2). */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_PREFIX = Buffer.from('PROXY ');
/** v2 headers longer than this (addresses and TLVs) are refused: none we act on needs more. */
const V2_MAX_LENGTH = 2048;

const INCOMPLETE: ProxyParse = { status: 'incomplete' };
const invalid = (reason: string): ProxyParse => ({ status: 'invalid', reason });

/** Whether `buf` so far agrees with `prefix` (as far as either goes). */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

/** Parses the header at the start of `buf`: done (with its length), incomplete (read more), or invalid. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return INCOMPLETE;
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < 16 ? INCOMPLETE : parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  return invalid('no PROXY protocol header');
}

const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function port(text: string): number | null {
  if (!PORT.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function parseV1(buf: Buffer): ProxyParse {
  const end = buf.subarray(0, V1_MAX).indexOf('\r\n');
  if (end === -1) return buf.length < V1_MAX ? INCOMPLETE : invalid('a v1 header longer than 107 bytes');
  const line = buf.subarray(0, end).toString('latin1');
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { status: 'done', header: { command: 'local' }, length: end + 2 };
  if (parts.length !== 6) return invalid('a v1 header needs PROXY TCP4|TCP6 <src> <dst> <sport> <dport>');
  const [, family, source, destination, sp, dp] = parts as [string, string, string, string, string, string];
  const parse = family === 'TCP4' ? parseIpv4 : family === 'TCP6' ? parseIpv6 : null;
  if (parse === null) return invalid(`unknown v1 protocol "${family}"`);
  // A TCP6 address must not be an IPv4 one written as IPv6's text of it, and the other way round.
  if (parse(source) === null || parse(destination) === null)
    return invalid(`a v1 ${family} address that is not one`);
  const sourcePort = port(sp);
  const destinationPort = port(dp);
  if (sourcePort === null || destinationPort === null) return invalid('a v1 port that is not 0–65535');
  return {
    status: 'done',
    header: { command: 'proxy', source, sourcePort, destination, destinationPort },
    length: end + 2,
  };
}

function ipv6Text(buf: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i).toString(16));
  return groups.join(':');
}

function parseV2(buf: Buffer): ProxyParse {
  const versionCommand = buf[12] as number;
  if (versionCommand >> 4 !== 2) return invalid('a v2 header of another version');
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid('a v2 command other than LOCAL or PROXY');
  const family = buf[13] as number;
  const length = buf.readUInt16BE(14);
  if (length > V2_MAX_LENGTH) return invalid(`a v2 header of ${length} bytes (at most ${V2_MAX_LENGTH})`);
  if (buf.length < 16 + length) return INCOMPLETE;
  const total = 16 + length;
  // LOCAL: the balancer speaks for itself; the address block, whatever it holds, is skipped.
  // UNSPEC with PROXY: the spec (§2.2) says to use the connection's own addresses, as for LOCAL.
  if (command === 0 || family === 0x00)
    return { status: 'done', header: { command: 'local' }, length: total };
  if (family === 0x11) {
    if (length < 12) return invalid('a v2 TCP over IPv4 header too short for its addresses');
    const ip = (at: number) => [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]].join('.');
    return {
      status: 'done',
      header: {
        command: 'proxy',
        source: ip(16),
        destination: ip(20),
        sourcePort: buf.readUInt16BE(24),
        destinationPort: buf.readUInt16BE(26),
      },
      length: total,
    };
  }
  if (family === 0x21) {
    if (length < 36) return invalid('a v2 TCP over IPv6 header too short for its addresses');
    return {
      status: 'done',
      header: {
        command: 'proxy',
        source: ipv6Text(buf, 16),
        destination: ipv6Text(buf, 32),
        sourcePort: buf.readUInt16BE(48),
        destinationPort: buf.readUInt16BE(50),
      },
      length: total,
    };
  }
  // UDP and Unix sockets say nothing about a TCP client of ours.
  return invalid(
    `a v2 PROXY header for transport family 0x${family.toString(16).padStart(2, '0')} (only TCP over IPv4 or IPv6)`,
  );
}
