// One port for the API (HTTP/1.1, what the CLI and scripts speak) and for the agents' sessions
// (HTTP/2, which agents open: ADR 0019). Over TLS, ALPN says which; in clear text (a loopback
// server) the first bytes do: HTTP/2 starts with its fixed preface.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';

export type Http1Handler = (req: IncomingMessage, res: ServerResponse) => void;
export type Http2Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

export interface ApiServerOptions {
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Every HTTP/1.1 request, and HTTP/2 requests outside `/v1/agent/`. */
  http1: Http1Handler;
  /** HTTP/2 requests under `/v1/agent/`: the agents' sessions, artifact downloads and log streams. */
  agent: Http2Handler;
}

export interface ApiServer {
  /** The listening socket (`listen()` it). */
  server: NetServer;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left. */
  close(graceMs?: number): Promise<void>;
}

/** The client's address of each HTTP/2 session (a replayed socket's own would say nothing). */
const peers = new WeakMap<Http2Session, string>();

/** The address of the client that opened an HTTP/2 session on an API server. */
export function peerAddress(session: Http2Session | undefined): string | null {
  return (session && (peers.get(session) ?? session.socket?.remoteAddress)) ?? null;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Whether the first bytes a client sent start (or are) the HTTP/2 preface. */
function startsHttp2(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, PREFACE.length);
  return n >= 3 && chunk.subarray(0, n).equals(PREFACE.subarray(0, n));
}

/**
 * A socket whose first bytes were already read, for the HTTP/2 server: it reads its handle
 * directly and would miss them. Only agent sessions take this path (one per agent), so the copy
 * through JavaScript costs nothing that matters.
 */
function replaying(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, _encoding, callback) => void socket.write(chunk as Buffer, callback),
    final: (callback) => {
      socket.end();
      callback();
    },
    destroy: (error, callback) => {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', (error) => duplex.destroy(error));
  Object.assign(duplex, { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
  return duplex;
}

/** The API's listener: HTTP/1.1 and HTTP/2 on one port, in clear text or over TLS. */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const h1 = createHttpServer(options.http1);
  const h2 = createHttp2Server((req, res) => {
    if (req.url.startsWith('/v1/agent/')) options.agent(req, res);
    else options.http1(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  const sessions = new Set<Http2Session>();
  // Set just before a connection is handed to the HTTP/2 server, which makes its session at once.
  let arriving: string | undefined;
  h2.on('session', (session) => {
    if (arriving) peers.set(session, arriving);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const dispatch = (socket: Socket, http2: boolean, first?: Buffer) => {
    if (!http2) {
      if (first) socket.unshift(first);
      h1.emit('connection', socket);
      socket.resume();
    } else {
      arriving = socket.remoteAddress;
      h2.emit('connection', first ? replaying(socket, first) : socket);
      arriving = undefined;
    }
  };
  let server: NetServer;
  if (options.tls) {
    server = createTlsServer(
      { cert: options.tls.cert, key: options.tls.key, ALPNProtocols: ['h2', 'http/1.1'], noDelay: true },
      (socket) => dispatch(socket, socket.alpnProtocol === 'h2'),
    );
    // A client that gives up during the handshake is not the server's error.
    server.on('tlsClientError', () => {});
  } else {
    // No Nagle: a call and its answer are small frames, each waiting for the other's ACK otherwise (~40 ms a call).
    server = createNetServer({ noDelay: true }, (socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause();
        dispatch(socket, startsHttp2(first), first);
      });
      socket.on('error', () => {});
    });
  }
  // Every connection, whatever it turned out to speak (or before it said anything), so a close
  // cuts what is left after the grace period.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // The HTTP/1.1 server never listens itself, but its slow-client timeouts (`headersTimeout`,
  // `requestTimeout`) are checked by a timer Node starts when it does.
  server.on('listening', () => h1.emit('listening'));
  return {
    server,
    close(graceMs = 2000) {
      return new Promise((resolve) => {
        for (const session of sessions) session.close();
        const timer = setTimeout(() => {
          h1.closeAllConnections();
          for (const session of sessions) session.destroy();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        timer.unref();
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        if (!server.listening) return finish();
        server.close(finish);
        // Stops its timer and closes its idle keep-alive connections (it reports not listening: fine).
        h1.close(() => {});
      });
    },
  };
}
