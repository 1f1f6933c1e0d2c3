import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { createServer } from 'node:tls';
import type { SecureContext, Server as TlsServer, TLSSocket } from 'node:tls';
import { listen } from '../shared/index.ts';
import { loadCertificates, NO_CERTIFICATES, pickCertificate, TLS_BASE } from './edge-certificates.ts';
import type { CertificateTable, LoadedCertificate } from './edge-certificates.ts';
import type { EdgeCertificate, EdgeCertificateInfo } from './router-types.ts';

// A connection that has not finished its handshake this long after the router began closing is
// cut (a client that opened TCP and never spoke TLS), as the HTTP side does with silent ones.
const PENDING_HANDSHAKE_GRACE_MS = 500;

function noop(): void {}

function signature(table: CertificateTable<LoadedCertificate>): string {
  return table.all
    .map(({ info }) => `${info.fingerprint} ${info.isDefault} ${info.hosts.join(',')}`)
    .join('\n');
}

/**
 * The router's TLS listener: terminates TLS and hands each secure socket to the router's one
 * connection entry point (`accept`), so requests over TLS take the same path as plain ones.
 * Certificates are loaded and their contexts built in `setCertificates`; a handshake's SNI
 * callback is a map lookup. Swapping the table is one reference: handshakes under way and live
 * connections keep the context they got.
 */
export class TlsListener {
  readonly #server: TlsServer;
  #table: CertificateTable<LoadedCertificate> = NO_CERTIFICATES;
  /** Raw TCP connections of this listener that have not completed a handshake. */
  readonly #pending = new Set<Socket>();
  /** Every raw TCP connection, to cut them when the router's drain runs out of time. */
  readonly #raw = new Set<Socket>();
  #closed: Promise<void> | null = null;

  constructor(accept: (socket: TLSSocket) => void, handshakeTimeoutMs: number) {
    this.#server = createServer({
      ...TLS_BASE,
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: handshakeTimeoutMs,
      SNICallback: this.#sni,
    });
    this.#server.on('connection', (raw: Socket) => {
      this.#raw.add(raw);
      this.#pending.add(raw);
      raw.once('close', () => {
        this.#raw.delete(raw);
        this.#pending.delete(raw);
      });
    });
    this.#server.on('secureConnection', (socket: TLSSocket) => {
      // Node keeps the TCP socket under the TLS one as `_parent` (no public name for it).
      const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
      if (raw !== undefined) this.#pending.delete(raw);
      accept(socket);
    });
    // A failed handshake (bad SNI, no shared cipher, a scanner) only ends that connection.
    this.#server.on('tlsClientError', noop);
    this.#server.on('error', noop);
  }

  // No context for an unknown name: OpenSSL then uses the server's own, which holds the default
  // certificate, or none (the handshake fails with an alert: refused).
  readonly #sni = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, pickCertificate(this.#table, servername)?.context);
  };

  listen(port: number, host?: string, options?: { reusePort?: boolean }): Promise<number> {
    return listen(this.#server, port, host, options);
  }

  /**
   * A TCP connection accepted elsewhere (a PROXY protocol listener), with the bytes read past its
   * header: they go back on the socket, where the TLS layer reads them first.
   */
  acceptRaw(socket: Socket, rest: Buffer): void {
    if (rest.length > 0) socket.unshift(rest);
    // Not resumed here: the TLS layer reads the TCP handle itself (a flowing socket would lose bytes).
    this.#server.emit('connection', socket);
  }

  /** Loads the whole set first (throws `TLS_INVALID`, serving on unchanged), then swaps it in. */
  setCertificates(certs: readonly EdgeCertificate[]): void {
    const table = loadCertificates(certs);
    // Handshakes without SNI never reach the callback: they get the server's own context.
    const fallback = table.fallback;
    this.#server.setSecureContext(
      fallback === null ? TLS_BASE : { ...TLS_BASE, cert: fallback.cert, key: fallback.key },
    );
    // A resumed session skips the certificate: after a real change (a replaced pair may have been
    // compromised) new connections must see the new one, so earlier session tickets stop working.
    if (signature(table) !== signature(this.#table)) this.#server.setTicketKeys(randomBytes(48));
    this.#table = table;
  }

  certificates(): EdgeCertificateInfo[] {
    return this.#table.all.map(({ info }) => ({ ...info, hosts: [...info.hosts] }));
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /**
   * Stops accepting; resolves once every connection of this listener is gone (the router drains
   * the secure ones). Connections still in their handshake after a short grace are cut.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      const timer = setTimeout(() => {
        for (const raw of this.#pending) raw.destroy();
      }, PENDING_HANDSHAKE_GRACE_MS);
      timer.unref();
    });
    return this.#closed;
  }

  /** Cuts every connection of this listener (the drain ran out of time). */
  destroyAll(): void {
    for (const raw of this.#raw) raw.destroy();
  }
}
