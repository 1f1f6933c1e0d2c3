// A prober per router (probe-process.ts, in a process of its own, in a network namespace when
// given): started, then stopped with SIGTERM or by its own bounds, its samples read back per machine.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { siblingModule } from '../shared/index.ts';
import type { MachineProbes } from './probe-analysis.ts';

const SCRIPT = siblingModule(import.meta.url, './probe-process');

export interface ProbeTarget {
  machine: string;
  /** The router, `http://address:port`. */
  url: string;
  /** The instance's host name, sent as `Host`. */
  host: string;
}

export interface ProberOptions {
  targets: ProbeTarget[];
  /** A request to each router every this many ms (1: the flip-skew benchmark; ≥ 15 for ≤ 200 requests/s over three routers). */
  intervalMs: number;
  /** It stops by itself after this long... */
  durationMs: number;
  /** ...or after this many requests in all. */
  maxRequests?: number;
  /** Probes unanswered at once per router before ticks are skipped. */
  maxInFlight?: number;
  /** A probe without an answer in this long counts as failed. */
  timeoutMs?: number;
  path?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Where the process writes its samples (a file in a temp dir of the caller's). */
  dir: string;
}

/** A router's latest answer, as the prober last reported it (every 100 ms). */
export interface LatestProbe {
  sentAt: number;
  /** 0: no answer. */
  status: number;
  version: string;
}

export interface Prober {
  pid: number;
  /** Resolves when the process has exited (by its own bounds, or stopped). */
  exited: Promise<void>;
  /** Each machine's latest answer (null before its first), at most 100 ms old. */
  latest(): Record<string, LatestProbe | null>;
  /** Stops it (SIGTERM; SIGKILL after 10 s) and reads what it saw, per machine. */
  stop(): Promise<MachineProbes[]>;
}

interface Output {
  targets: (ProbeTarget & { skipped: number; rows: [number, number, number, string][] })[];
}

let seq = 0;

/** Starts a prober and resolves once its loops run. */
export async function startProber(options: ProberOptions): Promise<Prober> {
  const out = join(options.dir, `probes-${process.pid}-${seq++}.json`);
  const config = {
    targets: options.targets,
    intervalMs: options.intervalMs,
    durationMs: options.durationMs,
    maxRequests: options.maxRequests ?? Number.MAX_SAFE_INTEGER,
    maxInFlight: options.maxInFlight ?? 4,
    timeoutMs: options.timeoutMs ?? 5_000,
    path: options.path ?? '/api/version',
    out,
  };
  const argv = [SCRIPT, JSON.stringify(config)];
  const child = options.netns
    ? spawn('ip', ['netns', 'exec', options.netns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stdout = '';
  let latest: Record<string, LatestProbe | null> = {};
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const lines = stdout.split('\n');
      stdout = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') resolve();
        else if (line.startsWith('last ')) latest = JSON.parse(line.slice(5)) as typeof latest;
      }
    });
    child.once('exit', (code) => reject(new Error(`the prober exited with ${code} before it was ready`)));
  });
  return {
    pid: child.pid!,
    exited,
    latest: () => latest,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      const output = JSON.parse(await readFile(out, 'utf8')) as Output;
      return output.targets.map((t) => ({
        machine: t.machine,
        skipped: t.skipped,
        samples: t.rows.map(([sentAt, answeredAt, status, version]) => ({ sentAt, answeredAt, status, version })),
      }));
    },
  };
}
