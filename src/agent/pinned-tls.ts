import { X509Certificate, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { Agent } from 'undici';
import { CutoverError } from '../shared/index.ts';
import type { PinKind } from '../shared/index.ts';

/** The SHA-256 (lowercase hex) of a peer certificate's DER: what a join token pins. */
export function derFingerprint(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * What an agent trusts in the server, from its join token: `cert`, exactly the certificate whose
 * SHA-256 is `sha256`; `ca`, any certificate for the server's name (or IP address) that the CA whose
 * SHA-256 is `sha256` signed, directly or through intermediates the server presents.
 */
export interface TlsPin {
  kind: PinKind;
  sha256: string;
}

/**
 * `tls.connect` options for a pinned connection to `host:port`. The system's CAs are not consulted
 * (`rejectUnauthorized: false`): {@link checkPeer} decides, once the handshake is done and before a
 * byte is written. `alpn`: `['h2']` for an HTTP/2 session, HTTP/1.1 by default.
 */
export function pinnedTlsOptions(host: string, port: number, options: { servername?: string; alpn?: string[] } = {}): ConnectionOptions {
  // RFC 6066 §3: no SNI for an IP address.
  return { host, port, ...(isIP(host) ? {} : { servername: options.servername || host }), rejectUnauthorized: false, ALPNProtocols: options.alpn ?? ['http/1.1'] };
}

/** The chain the server presented, leaf first (as OpenSSL linked it), each certificate once. */
function presentedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
  }
  return chain;
}

/** Why the chain up to the pinned CA at `caIndex` does not hold, or undefined: each link signed by the next, intermediates CAs, all valid now. */
export function chainProblem(chain: X509Certificate[], caIndex: number, now: number): string | undefined {
  for (let i = 0; i <= caIndex; i++) {
    const c = chain[i]!;
    if (now < Date.parse(c.validFrom) || now > Date.parse(c.validTo)) return `its certificate ${c.subject.replaceAll('\n', ', ')} is not valid now (${c.validFrom} to ${c.validTo})`;
    if (i === caIndex) break;
    const issuer = chain[i + 1]!;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return `its certificate ${c.subject.replaceAll('\n', ', ')} is not signed by the next one in its chain`;
    if (i + 1 < caIndex && !issuer.ca) return `an intermediate of its chain is not a CA`;
  }
  return undefined;
}

const untrusted = (what: string, fix: string, details: Record<string, unknown>) => new CutoverError('TLS_UNTRUSTED', `${what}; nothing was sent. ${fix}`, { details });

/**
 * Whether the server on `socket` (just through its TLS handshake, nothing written yet) is the one
 * `pin` trusts: the `TLS_UNTRUSTED` error saying why not, or undefined. A `cert` pin compares the
 * leaf's hash, whoever signed it (a self-signed certificate too). A `ca` pin finds the CA by its
 * hash in the presented chain (the server sends it: `tlsCa`), checks every signature from the leaf
 * up to it and the validity dates, and the leaf against `host` (a DNS name or an IP address SAN,
 * RFC 6125), so a certificate renewed by the same CA keeps working.
 */
export function checkPeer(socket: TLSSocket, pin: TlsPin, host: string, port: number | string, now = Date.now()): CutoverError | undefined {
  const where = `the server at ${host}:${port}`;
  if (pin.kind === 'cert') {
    const raw = socket.getPeerCertificate().raw;
    const got = raw ? derFingerprint(raw) : 'none';
    if (got === pin.sha256) return undefined;
    return untrusted(
      `${where} presented a certificate with SHA-256 ${got}, but the join token pins ${pin.sha256}`,
      'Check the server URL, or create a new join token on the right server (its fingerprint: `cutover server --print-fingerprint`); if the server renewed its certificate, re-pin this agent with a new join token (`cutover agent --repin`, docs/machines.md)',
      { expected: pin.sha256, got },
    );
  }
  const chain = presentedChain(socket);
  const caIndex = chain.findIndex((c) => derFingerprint(c.raw) === pin.sha256);
  if (caIndex < 0) {
    return untrusted(`${where} presented no certificate chain to the CA the join token pins (SHA-256 ${pin.sha256})`, 'Check the server URL, and that the server runs with --tls-ca naming that CA', { expectedCa: pin.sha256 });
  }
  const problem = chainProblem(chain, caIndex, now) ?? checkServerIdentity(host, socket.getPeerCertificate())?.message;
  return problem ? untrusted(`${where} is not trusted under the pinned CA (SHA-256 ${pin.sha256}): ${problem}`, 'Check the server URL (its name or address must be in the certificate) and the certificate', { expectedCa: pin.sha256 }) : undefined;
}

/**
 * An undici dispatcher that talks only to the server `pin` trusts (a bare string is a `cert` pin,
 * as before CA pins), checked by {@link checkPeer} right after the TLS handshake and before a byte
 * of the request is written, so a wrong server never sees the join token or the credential.
 */
export function pinnedDispatcher(pin: TlsPin | string): Agent {
  const trust: TlsPin = typeof pin === 'string' ? { kind: 'cert', sha256: pin } : pin;
  return new Agent({
    connect(opts, callback) {
      let settled = false;
      const done = (error: Error | null, socket: TLSSocket | null) => {
        if (settled) return;
        settled = true;
        if (error) {
          socket?.destroy();
          callback(error, null);
        } else callback(null, socket!);
      };
      const host = opts.hostname;
      const port = Number(opts.port) || 443;
      const socket = tlsConnect(pinnedTlsOptions(host, port, { ...(opts.servername ? { servername: opts.servername } : {}) }));
      socket.once('secureConnect', () => done(checkPeer(socket, trust, host, port) ?? null, socket));
      socket.once('error', (error) => done(error, socket));
    },
  });
}

/**
 * A TLS connection to `host:port` that resolves only once {@link checkPeer} accepted the server,
 * before anything is written (an HTTP/2 session is built on it: `alpn` `['h2']`). Same call as
 * the session client's, with a {@link TlsPin} (a bare string is a certificate pin).
 */
export function connectPinned(host: string, port: number, pin: TlsPin | string, alpn: string[]): Promise<TLSSocket> {
  const trust: TlsPin = typeof pin === 'string' ? { kind: 'cert', sha256: pin } : pin;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(pinnedTlsOptions(host, port, { alpn }));
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      const refused = checkPeer(socket, trust, host, port);
      if (!refused) return resolve(socket);
      socket.destroy();
      reject(refused);
    });
    socket.once('error', reject);
  });
}
