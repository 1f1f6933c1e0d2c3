import { createServer } from 'node:net';
import { endianness } from 'node:os';
import { readFile, readdir, readlink } from 'node:fs/promises';

/**
 * Who may receive connections on the agent's router and control ports (ADR 0013).
 *
 * The agent listens with SO_REUSEPORT so that a successor (`cutover agent --takeover`) can bind
 * the same ports while it still serves. Linux then lets any socket of the same effective uid that
 * also sets SO_REUSEPORT join the port's group and receive part of the connections. So before
 * binding, the agent checks the port is free with a plain bind, and after binding it checks from
 * `/proc/net/tcp{,6}` that every listener on the port is its own or the predecessor's.
 */

/** A listening TCP socket as `/proc/net/tcp{,6}` lists it. */
export interface TcpListener {
  /** The local address, numeric (`127.0.0.1`, `::`, `::ffff:127.0.0.1` written as 16 bytes hex). */
  address: string;
  port: number;
  inode: string;
}

const LISTEN = '0A';

/** One word of `/proc/net/tcp*` addresses is a 32-bit value in host byte order: put it in network order. */
function wordToBytes(hex: string, littleEndian: boolean): number[] {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
}

/** The listening sockets in the text of `/proc/net/tcp` or `/proc/net/tcp6` (addresses as 4 or 16 bytes, hex). */
export function parseProcNetTcp(text: string, littleEndian = endianness() === 'LE'): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [addrHex, portHex] = (fields[1] ?? '').split(':');
    if (!addrHex || !portHex) continue;
    const bytes: number[] = [];
    for (let i = 0; i < addrHex.length; i += 8)
      bytes.push(...wordToBytes(addrHex.slice(i, i + 8), littleEndian));
    listeners.push({
      address: Buffer.from(bytes).toString('hex'),
      port: Number.parseInt(portHex, 16),
      inode: fields[9]!,
    });
  }
  return listeners;
}

/** A numeric address as the hex of its 4 (IPv4) or 16 (IPv6) bytes, the form {@link parseProcNetTcp} uses. */
export function addressHex(address: string): string {
  if (!address.includes(':')) return Buffer.from(address.split('.').map(Number)).toString('hex');
  // IPv6: expand "::", and a trailing dotted IPv4 (`::ffff:127.0.0.1`) into two groups.
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    text =
      text.slice(0, -dotted[1]!.length) +
      `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups
    .map((g) => g.padStart(4, '0'))
    .join('')
    .toLowerCase();
}

const WILDCARD = /^0+$/;
// An IPv4 address as a v6 socket sees it: ::ffff:a.b.c.d.
const mapped = (hex: string): string => (hex.length === 8 ? `00000000000000000000ffff${hex}` : hex);

/** Whether a connection to one of the two bound addresses could reach the other (same address, or either is the wildcard). */
export function addressesOverlap(aHex: string, bHex: string): boolean {
  if (WILDCARD.test(aHex) || WILDCARD.test(bHex)) return true;
  return mapped(aHex) === mapped(bHex);
}

/**
 * The listeners that share `port` with a socket bound to `address` (hex) and whose inode is not in
 * `allowed`: pure, over the parsed `/proc/net/tcp{,6}`.
 */
export function strangers(
  listeners: readonly TcpListener[],
  port: number,
  address: string,
  allowed: ReadonlySet<string>,
): TcpListener[] {
  return listeners.filter(
    (l) => l.port === port && addressesOverlap(l.address, address) && !allowed.has(l.inode),
  );
}

/** Every listening TCP socket of this network namespace; undefined where `/proc` cannot be read (not Linux). */
export async function readListeners(): Promise<TcpListener[] | undefined> {
  const texts = await Promise.all(
    ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'utf8').catch(() => undefined)),
  );
  if (texts.every((t) => t === undefined)) return undefined;
  return texts.flatMap((t) => (t === undefined ? [] : parseProcNetTcp(t)));
}

/** The inodes of the sockets a process holds open (`/proc/<pid>/fd` → `socket:[inode]`); empty when unreadable. */
export async function socketInodes(pid: number | 'self'): Promise<Set<string>> {
  const dir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  const fds = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    fds.map(async (fd) => {
      const target = await readlink(`${dir}/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]!);
    }),
  );
  return inodes;
}

/**
 * Whether `host:port` can be bound by a socket without SO_REUSEPORT, i.e. nobody listens there
 * (a listener with SO_REUSEPORT still makes a plain bind fail). The probe socket is closed again
 * before this resolves. Errors other than EADDRINUSE (a bad host, EACCES) are thrown.
 */
export function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Whether `pid` holds a listening socket on `port`; undefined where `/proc` does not tell (then
 * the caller trusts the pid file alone).
 */
export async function holdsPort(pid: number, port: number): Promise<boolean | undefined> {
  const listeners = await readListeners();
  if (listeners === undefined) return undefined;
  const own = await socketInodes(pid);
  return listeners.some((l) => l.port === port && own.has(l.inode));
}

/**
 * The listeners on `port` that could take connections meant for this process's own listener
 * there and that neither this process nor `alsoAllowed` (a predecessor handing over) holds: whoever
 * joined the port's SO_REUSEPORT group. Empty where `/proc` cannot be read.
 */
export async function othersListening(port: number, alsoAllowed?: number): Promise<TcpListener[]> {
  const listeners = await readListeners();
  if (listeners === undefined) return [];
  const allowed = await socketInodes('self');
  const ours = listeners.filter((l) => l.port === port && allowed.has(l.inode));
  if (alsoAllowed !== undefined) for (const inode of await socketInodes(alsoAllowed)) allowed.add(inode);
  const found = new Map<string, TcpListener>();
  for (const own of ours)
    for (const l of strangers(listeners, port, own.address, allowed)) found.set(l.inode, l);
  return [...found.values()];
}
