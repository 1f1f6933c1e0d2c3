import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { Agent } from 'undici';
import { CutoverError } from '../shared/index.ts';

/** The SHA-256 (lowercase hex) of a peer certificate's DER: what a join token pins. */
export function derFingerprint(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * An undici dispatcher that accepts exactly one server certificate: the one whose SHA-256 is
 * `fingerprint`, whoever signed it (a self-signed certificate too). The chain is not checked (a
 * pin is stronger than a CA: only that certificate will do); the hash is compared once the TLS
 * handshake is done and before a byte of the request is written, so a wrong server never sees the
 * join token or the credential.
 */
export function pinnedDispatcher(fingerprint: string): Agent {
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
      // RFC 6066 §3: no SNI for an IP address.
      const socket = tlsConnect({
        host,
        port: Number(opts.port) || 443,
        ...(isIP(host) ? {} : { servername: opts.servername || host }),
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      socket.once('secureConnect', () => {
        const raw = socket.getPeerCertificate().raw;
        const got = raw ? derFingerprint(raw) : 'none';
        if (got === fingerprint) return done(null, socket);
        done(
          new CutoverError(
            'TLS_UNTRUSTED',
            `the server at ${host}:${opts.port} presented a certificate with SHA-256 ${got}, but the join token pins ${fingerprint}; nothing was sent. Check the server URL, or create a new join token on the right server (its fingerprint: \`cutover server --print-fingerprint\`)`,
            { details: { expected: fingerprint, got } },
          ),
          socket,
        );
      });
      socket.once('error', (error) => done(error, socket));
    },
  });
}

/**
 * A TLS connection to `host:port` that resolves only once the server showed the pinned
 * certificate, before anything is written (the session's HTTP/2 connection is built on it).
 */
export function connectPinned(host: string, port: number, fingerprint: string, alpn: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: false, ALPNProtocols: alpn });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      const raw = socket.getPeerCertificate().raw;
      const got = raw ? derFingerprint(raw) : 'none';
      if (got === fingerprint) return resolve(socket);
      socket.destroy();
      reject(
        new CutoverError('TLS_UNTRUSTED', `the server at ${host}:${port} presented a certificate with SHA-256 ${got}, but this machine pins ${fingerprint}; nothing was sent`, {
          details: { expected: fingerprint, got },
        }),
      );
    });
    socket.once('error', reject);
  });
}
