// Test support (not shipped): an HTTPS client for the router's TLS tests, which reports the
// certificate the handshake presented.
import { request } from 'node:https';
import type { Agent } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';

/** One HTTPS answer, with the fingerprint of the certificate its connection was given. */
export interface TlsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** SHA-256 of the leaf's DER, lowercase hex (the router's `certificates()` form). */
  fingerprint: string;
  /** The client's port: the same for requests on one connection. */
  localPort: number;
  /** Whether the connection resumed an earlier TLS session (no certificate was sent then). */
  reused: boolean;
}

function fingerprintOf(socket: TLSSocket): string {
  return (socket.getPeerX509Certificate()?.fingerprint256 ?? '').replaceAll(':', '').toLowerCase();
}

/**
 * GET (or `method`) over HTTPS to `127.0.0.1:port` with SNI `servername` (none when empty) and
 * `Host: host`. Without `agent`, a fresh connection with no session to resume: a full handshake.
 */
export function httpsGet(
  port: number,
  servername: string,
  options: {
    host?: string;
    path?: string;
    headers?: Record<string, string>;
    agent?: Agent;
    ca?: string;
  } = {},
): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        servername,
        headers: { host: options.host ?? servername, ...options.headers },
        agent: options.agent ?? false,
        ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca }),
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint = fingerprintOf(socket);
        const localPort = socket.localPort ?? 0;
        const reused = socket.isSessionReused();
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            fingerprint,
            localPort,
            reused,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A bare TLS handshake: the presented certificate's fingerprint, or the error that ended it. */
export function handshake(
  port: number,
  servername: string,
): Promise<{ fingerprint: string } | { error: Error }> {
  return new Promise((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername === '' ? {} : { servername }) },
      () => {
        const fingerprint = fingerprintOf(socket);
        socket.destroy();
        resolve({ fingerprint });
      },
    );
    socket.on('error', (error) => resolve({ error }));
  });
}
