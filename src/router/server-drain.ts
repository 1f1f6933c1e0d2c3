import { Server as NetServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** What is used of an HTTP server (any request/response classes). */
type HttpServer = Server & { closeIdleConnections(): void };

// Node's server.close() only closes connections idle at that instant; keep sweeping while closing
// so keep-alive connections are closed as soon as their last response is done.
const CLOSE_SWEEP_MS = 20;
// How long connections idle at close time may still send a request (answered with `Connection: close`).
const IDLE_GRACE_MS = 200;
// Clients (browsers, pools) open connections ahead of need. Node counts a connection that has not
// sent a byte as busy, so neither closeIdleConnections() nor close() would end it before the drain
// timeout; once closing has gone on this long, such connections are closed.
const FRESH_CONNECTION_GRACE_MS = 500;

function noop(): void {}

/** Tracks a server's client connections (a Set entry per connection, nothing per request). */
export function trackConnections(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/**
 * Stops accepting and waits until every client connection is gone (and `alsoClosed` resolved): idle keep-alive connections
 * are closed as soon as they are idle, connections that never sent a byte after a short grace.
 * Resolves `closed` (a promise of the server's close) and whether `timeoutMs` ran out first.
 * `closeIdle` closes idle connections node:http does not know of (the router's fast path).
 */
export async function drainServer(
  server: HttpServer,
  sockets: Set<Socket>,
  timeoutMs: number,
  alsoClosed: Promise<void> = Promise.resolve(),
  closeIdle?: () => void,
): Promise<{ timedOut: boolean; closed: Promise<void> }> {
  // server.close() itself closes the connections idle at that instant; a busy keep-alive client
  // may be writing its next request into one right then and would see a reset. So the listener is
  // closed first, and idle connections only after a grace in which every busy client has had a
  // response with `Connection: close` (see Router#close) and closed its connection itself.
  // `alsoClosed`: another listener feeding this server (the TLS one), closed by the caller; its
  // connections count until they are gone too.
  const closed = Promise.all([
    new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve())),
    alsoClosed,
  ]).then(noop);
  const since = performance.now();
  const sweep = setInterval(() => {
    if (performance.now() - since < IDLE_GRACE_MS) return;
    server.closeIdleConnections();
    // Connections a fast path in front of the server still owns are closed by it.
    closeIdle?.();
    if (performance.now() - since < FRESH_CONNECTION_GRACE_MS) return;
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  }, CLOSE_SWEEP_MS);
  sweep.unref();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
      timer.unref();
    }),
  ]);
  clearInterval(sweep);
  clearTimeout(timer);
  return { timedOut, closed };
}
