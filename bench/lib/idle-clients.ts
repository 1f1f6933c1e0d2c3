/**
 * Holds many idle keep-alive connections to a proxy, in its own process (so the bench's own
 * open-files limit and memory do not matter): each connection sends one GET, reads the whole
 * response, then stays open and silent.
 * Usage: node idle-clients.ts --port N --n 5000 [--concurrency 200] [--host bench.test]
 * Prints {"open","failed","ms"} once every connection got its answer (or failed). Then each stdin
 * line "count" is answered with {"open"}: how many of them the server has not closed yet.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1] : undefined) ?? fallback;
}

const port = Number(flag('port', '0'));
const n = Number(flag('n', '5000'));
const concurrency = Number(flag('concurrency', '200'));
const host = flag('host', 'bench.test');
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'latin1');
const sockets = new Set<Socket>();
let failed = 0;

/** True once `text` holds one complete response (Content-Length or chunked framing). */
function complete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end).toLowerCase();
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (length) return text.length - end - 4 >= Number(length[1]);
  if (head.includes('transfer-encoding: chunked')) return text.endsWith('0\r\n\r\n');
  return true;
}

function open(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      socket.setTimeout(0);
      if (ok) sockets.add(socket);
      else {
        failed++;
        socket.destroy();
      }
      resolve();
    };
    socket.setTimeout(10_000, () => finish(false));
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: string) => {
      if (done) return;
      text += d;
      if (complete(text)) finish(text.startsWith('HTTP/1.1 200'));
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => {
      sockets.delete(socket);
      finish(false);
    });
  });
}

const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      next++;
      await open();
    }
  }),
);
process.stdout.write(
  JSON.stringify({ open: sockets.size, failed, ms: Math.round(performance.now() - started) }) + '\n',
);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  for (const line of d.split('\n')) {
    if (line.trim() === 'count') process.stdout.write(JSON.stringify({ open: sockets.size }) + '\n');
  }
});
function stop(): void {
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.once('SIGTERM', stop);
// The bench holds our stdin: if it dies without stopping us, its end stops us too.
process.stdin.on('end', stop);
