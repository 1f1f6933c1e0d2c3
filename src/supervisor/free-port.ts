import { createServer } from 'node:net';

/**
 * Asks the kernel for a free loopback port by listening on `127.0.0.1:0` and closing again.
 * Another process could take the port before the app binds it; the health check then fails
 * and the deployment reports it, which is acceptable for the rare collision.
 */
export function allocateLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/**
 * Whether `127.0.0.1:<port>` can be bound right now (listening and closing again at once).
 * Used before a crashed slot is restarted on its old port: the router still sends that port's
 * traffic to the slot, so the port must be the slot's own again, not another process's.
 */
export function loopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
