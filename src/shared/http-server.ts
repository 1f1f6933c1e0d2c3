import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';

/**
 * Listens and resolves with the bound port (so port 0 works), rejecting on e.g. EADDRINUSE.
 * `reusePort` sets SO_REUSEPORT (Linux), so a successor process can bind the same port while this
 * one still listens (every listener of the port must set it).
 */
export function listen(server: NetServer, port: number, host?: string, options: { reusePort?: boolean } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ port, ...(host === undefined ? {} : { host }), ...(options.reusePort ? { reusePort: true } : {}) }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left
 * (long polls, followed log streams).
 */
export function closeServer(server: Server | HttpsServer, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
