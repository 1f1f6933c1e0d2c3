import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { invalidInput } from '../shared/index.ts';
import { ProxyProtocolListener } from './proxy-listener.ts';
import type { ResolvedRouterOptions } from './router-options.ts';
import type { EdgeCertificate, EdgeCertificateInfo, ListenOptions } from './router-types.ts';
import { TlsListener } from './tls-listener.ts';

function noop(): void {}

/**
 * The router's listeners besides its plain port (issue 21): the TLS one, and those that take a
 * PROXY protocol header off first. Each hands its connections to the router's entry point, so
 * the router's request path is the same whichever listener a connection came through.
 */
export class EdgeListeners {
  readonly #server: Server;
  readonly #options: ResolvedRouterOptions;
  readonly #accept: (socket: Socket) => void;
  readonly #acceptWithHead: (socket: Socket, head: Buffer) => void;
  #tls: TlsListener | null = null;
  readonly #proxied: ProxyProtocolListener[] = [];
  /** The TLS listener's port once it listens (redirects name it). */
  tlsPort: number | null = null;

  /**
   * `accept` takes a socket ready to read (a plain one, or TLS once decrypted); `acceptWithHead`
   * a paused plain one with the bytes already read after its PROXY header.
   */
  constructor(
    server: Server,
    options: ResolvedRouterOptions,
    accept: (socket: Socket) => void,
    acceptWithHead: (socket: Socket, head: Buffer) => void,
  ) {
    this.#server = server;
    this.#options = options;
    this.#accept = accept;
    this.#acceptWithHead = acceptWithHead;
  }

  #tlsListener(): TlsListener {
    this.#tls ??= new TlsListener(
      (socket: TLSSocket) => this.#accept(socket),
      this.#options.clientHeadersTimeoutMs,
    );
    return this.#tls;
  }

  /** The plain port with `proxyProtocol`. */
  listenProxied(port: number, host: string | undefined, options: ListenOptions): Promise<number> {
    return this.#listenProxied(port, host, options, this.#acceptWithHead);
  }

  async listenTls(port: number, host?: string, options?: ListenOptions): Promise<number> {
    const tls = this.#tlsListener();
    this.tlsPort =
      options?.proxyProtocol === true
        ? await this.#listenProxied(port, host, options, (socket, rest) => tls.acceptRaw(socket, rest))
        : await tls.listen(port, host, options);
    this.#startTracking();
    return this.tlsPort;
  }

  async #listenProxied(
    port: number,
    host: string | undefined,
    options: ListenOptions,
    hand: (socket: Socket, rest: Buffer) => void,
  ): Promise<number> {
    const trusted = this.#options.trustedProxies;
    if (trusted === null) {
      throw invalidInput('CONFIG_INVALID', 'router listener', [
        {
          path: 'proxyProtocol',
          message: 'needs trustedProxies: only the proxies listed there may send the header',
        },
      ]);
    }
    const timeoutMs = Math.min(this.#options.clientHeadersTimeoutMs, 10_000);
    const listener = new ProxyProtocolListener(trusted, timeoutMs, hand);
    const bound = await listener.listen(port, host, { reusePort: options.reusePort === true });
    this.#proxied.push(listener);
    this.#startTracking();
    return bound;
  }

  // node:http starts tracking connections (its header and request timeouts, closing idle ones)
  // when it starts listening; a router whose connections all come through these listeners must
  // start it too.
  #startTracking(): void {
    if (!this.#server.listening) this.#server.emit('listening');
  }

  setCertificates(certs: readonly EdgeCertificate[]): void {
    this.#tlsListener().setCertificates(certs);
  }

  certificates(): EdgeCertificateInfo[] {
    return this.#tls?.certificates() ?? [];
  }

  /** Stops accepting; resolves once every connection these listeners accepted is gone. */
  close(): Promise<void> {
    return Promise.all([this.#tls?.close(), ...this.#proxied.map((l) => l.close())]).then(noop);
  }

  /** Cuts every connection (the router's drain ran out of time). */
  destroyAll(): void {
    this.#tls?.destroyAll();
    for (const listener of this.#proxied) listener.destroyAll();
  }
}
