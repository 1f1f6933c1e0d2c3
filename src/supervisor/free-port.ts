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
