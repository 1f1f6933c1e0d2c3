/**
 * Runs `wrk` (the C load generator) and reads its report: requests, requests/s, the latency
 * percentiles printed by `--latency`, and every kind of failure it counts.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Tracker } from './child-process.ts';

/** One wrk run. */
export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** Sent as the Host header. */
  host?: string;
  /** wrk's per-request timeout, seconds (default 2). */
  timeoutS?: number;
  /** Run wrk on this CPU only (`taskset -c`). */
  cpu?: number;
  /** More request headers (`Connection: close`: a new connection, and TLS handshake, per request). */
  headers?: string[];
}

/** What wrk reported. Latencies in ms. */
export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  avgMs: number;
  maxMs: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** non-2xx/3xx answers plus every socket error. */
  failures: number;
  raw: string;
}

/** A wrk run in the background, stopped with SIGINT (wrk then prints its report). */
export interface RunningWrk {
  pid: number;
  /** Resolves with the report once wrk ended by itself. */
  done: Promise<WrkResult>;
  /** Interrupts wrk (SIGINT) unless it already ended, and resolves with its report. */
  stop(): Promise<WrkResult>;
}

/** The wrk binary on PATH, or null. */
export function wrkBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : null;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  return Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}

function latency(raw: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s|m|h)\\b`, 'm').exec(raw);
  return m ? toMs(m[1]!, m[2]!) : Number.NaN;
}

/** Parses wrk 4's text report (run with `--latency`). */
export function parseWrk(raw: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(raw);
  const requests = total ? Number(total[1]) : Number.NaN;
  const seconds = total ? toMs(total[2]!, total[3]!) / 1000 : Number.NaN;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(raw);
  const stats = /^\s*Latency\s+([\d.]+)(us|ms|s|m)\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/m.exec(raw);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(raw);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = {
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
  };
  const n2 = Number(non2xx?.[1] ?? 0);
  return {
    requests,
    seconds,
    rps: rps ? Number(rps[1]) : Number.NaN,
    avgMs: stats ? toMs(stats[1]!, stats[2]!) : Number.NaN,
    maxMs: stats ? toMs(stats[3]!, stats[4]!) : Number.NaN,
    p50Ms: latency(raw, '50%'),
    p75Ms: latency(raw, '75%'),
    p90Ms: latency(raw, '90%'),
    p99Ms: latency(raw, '99%'),
    non2xx: n2,
    socketErrors,
    failures: n2 + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
    raw,
  };
}

function args(o: WrkOptions): string[] {
  return [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    `--timeout`,
    `${o.timeoutS ?? 2}s`,
    '--latency',
    ...(o.host ? ['-H', `Host: ${o.host}`] : []),
    ...(o.headers ?? []).flatMap((h) => ['-H', h]),
    o.url,
  ];
}

/** Starts wrk; `stop()` interrupts it early, `done` waits for the end of its duration. */
export function startWrk(o: WrkOptions, binary = 'wrk'): RunningWrk {
  const [command, argv] =
    o.cpu === undefined ? [binary, args(o)] : ['taskset', ['-c', String(o.cpu), binary, ...args(o)]];
  const proc = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // Bound: the duration plus slack; a wrk that hangs past it is killed (by its pid).
  const bound = setTimeout(() => proc.kill('SIGKILL'), (o.durationS + 15) * 1000);
  bound.unref();
  const done = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', () => resolve(-1));
  }).then((code) => {
    clearTimeout(bound);
    const result = parseWrk(out);
    // SIGINT (stop) ends wrk with its report and a non-zero status; judge by the report.
    if (!Number.isFinite(result.requests))
      throw new Error(`wrk ${args(o).join(' ')} failed (exit ${code}): ${(err || out).trim()}`);
    return result;
  });
  done.catch(() => undefined);
  return {
    pid: proc.pid ?? -1,
    done,
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
      return done;
    },
  };
}

/**
 * Runs wrk for its whole duration and returns its report. While it runs it is on `track` (when
 * given), so whoever stops everything on a signal stops it too.
 */
export async function runWrk(o: WrkOptions, binary = 'wrk', track?: Tracker): Promise<WrkResult> {
  const run = startWrk(o, binary);
  if (track === undefined) return run.done;
  track.add(run);
  try {
    return await run.done;
  } finally {
    await track.stop(run);
  }
}
