/**
 * nginx as the reference reverse proxy: started by the benchmark from a generated config in a
 * temp dir (master + N workers, no daemon, no access log, upstream keep-alive), stopped by its
 * pid (SIGQUIT, then SIGKILL of the master and its workers).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, cpuOf } from './proc-stat.ts';
import type { CpuTime } from './proc-stat.ts';

/** A running nginx. */
export interface Nginx {
  port: number;
  /** The master's pid. */
  pid: number;
  workers: number[];
  /** CPU of master + workers so far. */
  cpu(): Promise<CpuTime>;
  stop(): Promise<void>;
}

/** nginx's path (Debian's /usr/sbin/nginx, or on PATH), or null when it is not installed. */
export function nginxBinary(): string | null {
  for (const p of [
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/bin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ]) {
    if (existsSync(p)) return p;
  }
  return null;
}

/** A loopback port that was free a moment ago (nginx cannot listen on 0 and tell us). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A certificate and key (PEM files) for a TLS listener. */
export interface TlsFilesPair {
  cert: string;
  key: string;
}

// What the router's TLS listener does too: TLS 1.2 and 1.3, session tickets (nginx's default), no
// shared session cache (the router has none).
function tlsLines(tls: TlsFilesPair | undefined): string {
  if (tls === undefined) return '';
  return `ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.2 TLSv1.3;`;
}

function config(
  dir: string,
  port: number,
  upstreamPort: number,
  workers: number | 'auto',
  tls?: TlsFilesPair,
): string {
  // The X-Forwarded-* headers and the version header match what the router adds, so both
  // proxies do comparable work per request.
  return `daemon off;
master_process on;
worker_processes ${workers};
${process.getuid?.() === 0 ? 'user root;' : ''}
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port}${tls === undefined ? '' : ' ssl'};
    ${tlsLines(tls)}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      add_header x-app-version 1.0.0;
    }
  }
}
`;
}

/** True once `port` answers `GET /` (Host bench.test) with 200, over TLS when `tls` (any certificate). */
export async function answers(port: number, tls = false): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { host: '127.0.0.1', port, path: '/', headers: { host: 'bench.test' }, rejectUnauthorized: false };
    const req = (tls ? httpsRequest : request)(options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
    req.end();
  });
}

/**
 * Starts nginx proxying to 127.0.0.1:`upstreamPort` (on CPU `cpu` only when given; its workers
 * inherit the affinity) and waits until it answers 200 (≤ 10 s). With `tls`, it listens with TLS.
 */
export async function startNginx(
  binary: string,
  upstreamPort: number,
  workers: number | 'auto',
  cpu?: number,
  tls?: TlsFilesPair,
): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-bench-nginx-'));
  const port = await freePort();
  await writeFile(join(dir, 'nginx.conf'), config(dir, port, upstreamPort, workers, tls));
  const argv = [binary, '-p', dir, '-c', join(dir, 'nginx.conf')];
  const [command, ...args] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  const proc = spawn(command as string, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4096)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const pid = proc.pid ?? -1;
  let workerPids: number[] = [];
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGQUIT');
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
    for (const w of workerPids) {
      try {
        process.kill(w, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!(await answers(port, tls !== undefined))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx did not start on port ${port}: ${(err + log).trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    workerPids = await childrenOf(pid);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    pid,
    workers: workerPids,
    cpu: () => cpuOf([pid, ...workerPids]),
    stop,
  };
}
