/**
 * HAProxy as the second reference reverse proxy: started by the benchmark from a generated config
 * in a temp dir (one process, one thread, foreground, no logging, upstream connection reuse),
 * stopped by its pid (SIGUSR1 = soft stop, then SIGKILL after a bound).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, freePort } from './nginx.ts';

/** A running HAProxy. */
export interface Haproxy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** HAProxy's path (Debian's /usr/sbin/haproxy), or null when it is not installed. */
export function haproxyBinary(): string | null {
  for (const p of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) {
    if (existsSync(p)) return p;
  }
  return null;
}

function config(port: number, upstreamPort: number): string {
  // The same per-request work as the router and the nginx config: X-Forwarded-* added, a version
  // header on the answer, keep-alive both sides (`http-reuse always` shares idle server connections).
  return `global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 75s
  timeout server 60s
  timeout http-keep-alive 75s
  http-reuse always
  option forwardfor
frontend proxy
  bind 127.0.0.1:${port}
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-response set-header x-app-version 1.0.0
  default_backend app
backend app
  server app 127.0.0.1:${upstreamPort}
`;
}

/**
 * Starts HAProxy proxying to 127.0.0.1:`upstreamPort` (on CPU `cpu` only when given) and waits
 * until it answers 200 (≤ 10 s).
 */
export async function startHaproxy(binary: string, upstreamPort: number, cpu?: number): Promise<Haproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-bench-haproxy-'));
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config(port, upstreamPort));
  const argv = [binary, '-db', '-f', file];
  const [command, ...args] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  const proc = spawn(command as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4096)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGUSR1');
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), 3_000);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      if (late) proc.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`haproxy did not start on port ${port}: ${err.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: proc.pid ?? -1, stop };
}
