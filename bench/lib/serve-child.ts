// The life of a bench child server: listen on a free loopback port, print `{port, pid}` on one
// line for the bench to read, and stop on SIGTERM or when the bench's end of stdin closes (a bench
// that dies without stopping its children stops them too).
import type { Server } from 'node:net';

export function serveChild(server: Server, stop: () => void): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(JSON.stringify({ port, pid: process.pid }) + '\n');
  });
  process.once('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
}
