import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { listen } from '../shared/index.ts';
import type { CidrSet } from './cidr.ts';
import { parseProxyHeader, V1_MAX } from './proxy-protocol.ts';

// A listener that takes the PROXY protocol header off each connection before handing it on (to
// the router's plain entry point, or to the TLS listener). Only trusted proxies may speak it: a
// connection from anyone else, or one whose first bytes are not exactly a header, is closed.

const CLIENT = Symbol('cutover.proxiedClient');
type Proxied = Socket & { [CLIENT]?: string };

/**
 * The client address a PROXY header gave for this connection (on the TLS socket: its TCP socket's),
 * or undefined (no header, or LOCAL: the balancer speaking for itself).
 */
export function proxiedClientOf(socket: Socket): string | undefined {
  const own = (socket as Proxied)[CLIENT];
  if (own !== undefined) return own;
  // Node keeps the TCP socket under a TLS one as `_parent` (no public name for it).
  const parent = (socket as Socket & { _parent?: Proxied })._parent;
  return parent?.[CLIENT];
}

// Enough for any v1 header and for a v2 one with the TLVs parseProxyHeader accepts.
const MAX_HEADER_BYTES = Math.max(V1_MAX, 16 + 2048);
// After the router began closing, connections still sending their header this long are cut.
const CLOSE_GRACE_MS = 500;

function noop(): void {}

export class ProxyProtocolListener {
  readonly #server: Server;
  /** Connections still being read for their header. */
  readonly #reading = new Set<Socket>();
  readonly #all = new Set<Socket>();
  #closed: Promise<void> | null = null;

  /**
   * `hand` gets each connection once its header is read, paused, with the bytes that came after
   * the header (possibly none) not yet given to anyone.
   */
  constructor(trusted: CidrSet, timeoutMs: number, hand: (socket: Socket, rest: Buffer) => void) {
    this.#server = createServer({ noDelay: true }, (socket) => this.#read(socket, trusted, timeoutMs, hand));
    this.#server.on('error', noop);
  }

  #read(
    socket: Socket,
    trusted: CidrSet,
    timeoutMs: number,
    hand: (socket: Socket, rest: Buffer) => void,
  ): void {
    socket.on('error', noop);
    const peer = socket.remoteAddress;
    if (peer === undefined || !trusted.has(peer)) {
      socket.destroy();
      return;
    }
    this.#all.add(socket);
    this.#reading.add(socket);
    socket.once('close', () => {
      this.#all.delete(socket);
      this.#reading.delete(socket);
    });
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const parsed = parseProxyHeader(buffered);
      if (parsed.status === 'incomplete' && buffered.length < MAX_HEADER_BYTES) return;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (parsed.status !== 'done') {
        socket.destroy();
        return;
      }
      socket.pause();
      this.#reading.delete(socket);
      if (parsed.header.command === 'proxy') (socket as Proxied)[CLIENT] = parsed.header.source;
      hand(socket, buffered.subarray(parsed.length));
    };
    socket.on('data', onData);
  }

  listen(port: number, host?: string, options?: { reusePort?: boolean }): Promise<number> {
    return listen(this.#server, port, host, options);
  }

  /** Stops accepting; resolves once every connection it accepted is gone (handed on or not). */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      const timer = setTimeout(() => {
        for (const socket of this.#reading) socket.destroy();
      }, CLOSE_GRACE_MS);
      timer.unref();
    });
    return this.#closed;
  }

  /** Cuts every connection it accepted (the router's drain ran out of time). */
  destroyAll(): void {
    for (const socket of this.#all) socket.destroy();
  }
}
