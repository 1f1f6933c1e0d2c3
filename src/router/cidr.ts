import type { FieldIssue } from '../shared/index.ts';

// A small CIDR matcher for `trustedProxies`. It runs once per client connection (never per
// request), so clarity wins over speed: IPv4 as a 32-bit number, IPv6 as a 128-bit bigint.

/** A parsed block: the network with its host bits clear, and its mask. */
interface Block<T> {
  network: T;
  mask: T;
}

const V4_MAPPED = 0xffff_0000_0000n; // ::ffff:0:0/96, RFC 4291 §2.5.5.2
const ALL_V6 = (1n << 128n) - 1n;

/** `a.b.c.d` → its 32-bit value, or null when it is not a dotted quad of decimal octets. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    // No leading zeros: `010` is octal to some parsers and decimal to others.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

function groupsOf(text: string): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) groups.push(parseInt(part, 16));
    else return null;
  }
  return groups;
}

/** An IPv6 address (RFC 4291 §2.2 text forms, `::` and a trailing dotted quad included) → 128 bits, or null. */
export function parseIpv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (head === null || tail === null) return null;
  // A dotted quad may only end the address.
  if (halves.length === 2 && (halves[0] as string).includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const g of [...head, ...new Array<number>(missing).fill(0), ...tail])
    value = (value << 16n) | BigInt(g);
  return value;
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

function v6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_V6 << BigInt(128 - prefix)) & ALL_V6;
}

/** The addresses of a set of CIDR blocks. An IPv4-mapped IPv6 address matches IPv4 blocks too. */
export class CidrSet {
  readonly #v4: Block<number>[];
  readonly #v6: Block<bigint>[];

  constructor(v4: Block<number>[], v6: Block<bigint>[]) {
    this.#v4 = v4;
    this.#v6 = v6;
  }

  get size(): number {
    return this.#v4.length + this.#v6.length;
  }

  /** Whether `ip` (a peer's address as Node reports it; a zone `%eth0` is ignored) is in a block. */
  has(ip: string): boolean {
    let v4 = ip.includes(':') ? null : parseIpv4(ip);
    let v6: bigint | null = null;
    if (v4 === null) {
      const zone = ip.indexOf('%');
      v6 = parseIpv6(zone === -1 ? ip : ip.slice(0, zone));
      if (v6 === null) return false;
      if (v6 >> 32n === V4_MAPPED >> 32n) v4 = Number(v6 & 0xffff_ffffn);
    } else v6 = V4_MAPPED | BigInt(v4);
    if (v4 !== null) {
      for (const b of this.#v4) if ((v4 & b.mask) >>> 0 === b.network) return true;
    }
    for (const b of this.#v6) if ((v6 & b.mask) === b.network) return true;
    return false;
  }
}

function parseBlock(text: string): Block<number> | Block<bigint> | string {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);
  const v4 = parseIpv4(address);
  const v6 = v4 === null ? parseIpv6(address) : null;
  if (v4 === null && v6 === null) return 'is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)';
  const max = v4 !== null ? 32 : 128;
  if (prefixText !== null && !/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText))
    return `has a bad prefix length; give /0 to /${max}`;
  const prefix = prefixText === null ? max : Number(prefixText);
  if (prefix > max) return `has a prefix longer than /${max}`;
  if (v4 !== null) {
    const mask = v4Mask(prefix);
    const network = (v4 & mask) >>> 0;
    if (network !== v4) return `has host bits set; did you mean ${formatV4(network)}/${prefix}?`;
    return { network, mask };
  }
  const mask = v6Mask(prefix);
  const network = (v6 as bigint) & mask;
  if (network !== v6) return `has host bits set below /${prefix}; clear them`;
  return { network, mask };
}

function formatV4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Parses CIDR blocks (a bare address is one host); every bad entry is an issue at `path[i]`. */
export function parseCidrs(list: readonly string[], path: string): { set: CidrSet; issues: FieldIssue[] } {
  const v4: Block<number>[] = [];
  const v6: Block<bigint>[] = [];
  const issues: FieldIssue[] = [];
  if (!Array.isArray(list)) {
    issues.push({ path, message: 'must be a list of CIDRs' });
    return { set: new CidrSet(v4, v6), issues };
  }
  list.forEach((entry, i) => {
    const block = typeof entry === 'string' ? parseBlock(entry.trim()) : 'must be a string';
    if (typeof block === 'string')
      issues.push({ path: `${path}[${i}]`, message: `${JSON.stringify(entry)} ${block}` });
    else if (typeof block.network === 'number') v4.push(block as Block<number>);
    else v6.push(block as Block<bigint>);
  });
  return { set: new CidrSet(v4, v6), issues };
}
