/**
 * On-CPU sampling of one process with Linux `perf` (cpu-clock, so it works in VMs without
 * hardware counters), summarised by area: kernel, JIT-compiled JS by origin (router, undici, Node),
 * V8 builtins, Node/V8 C++, libc. Unlike V8's `--cpu-prof` (wall-clock samples), time a thread
 * spends descheduled is not counted, so the shares add up to the CPU the process really used.
 * JS frames are named only if the process runs with `--perf-basic-prof`.
 */
import { spawn, spawnSync } from 'node:child_process';

/** True when `perf record` can sample here (perf installed, events allowed). */
export function perfAvailable(): boolean {
  const r = spawnSync('perf', ['stat', '-e', 'task-clock', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Starts `perf record` on `pid`; `stop()` ends it (SIGINT) and resolves once the file is written. */
export function startPerf(pid: number, file: string, hz = 2000): { stop(): Promise<void> } {
  const proc = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(hz), '-p', String(pid), '-o', file], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
      const bound = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(bound);
    },
  };
}

/** Which area a sampled symbol belongs to. */
export function perfArea(dso: string, symbol: string): string {
  if (dso.includes('kernel')) return 'kernel (syscalls, loopback TCP, scheduler)';
  if (dso.startsWith('[JIT]')) {
    if (symbol.includes('wasm-function')) return 'JS: undici llhttp parser (wasm)';
    if (symbol.includes('/src/router/')) return 'JS: router (src/router)';
    if (symbol.includes('/src/')) return 'JS: other Cutover source';
    if (symbol.includes('/undici/')) return 'JS: undici';
    if (symbol.includes(' node:')) return 'JS: Node internals (http, net, streams)';
    return 'JS: other / stubs';
  }
  if (dso === 'node') {
    return symbol.startsWith('Builtins_')
      ? 'V8 builtins (property access ICs, calls, write barriers)'
      : 'Node/V8 C++ (HTTP parser, libuv, GC, runtime)';
  }
  return `other native (${dso})`;
}

interface Row {
  pct: number;
  dso: string;
  symbol: string;
}

async function report(file: string): Promise<Row[]> {
  const proc = spawn(
    'perf',
    ['report', '-i', file, '--stdio', '--no-children', '-g', 'none', '--sort', 'dso,sym'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const rows: Row[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m) rows.push({ pct: Number(m[1]), dso: m[2]!.trim(), symbol: m[3]!.trim() });
  }
  return rows;
}

/** Shares of the process's CPU by area and the `top` symbols, also as µs per request. */
export async function perfLines(file: string, cpuUsPerRequest: number, top = 25): Promise<string[]> {
  const rows = await report(file);
  if (rows.length === 0) return [`perf: no samples in ${file}`];
  const areas = new Map<string, number>();
  for (const r of rows) {
    const a = perfArea(r.dso, r.symbol);
    areas.set(a, (areas.get(a) ?? 0) + r.pct);
  }
  const line = (pct: number, name: string) =>
    `${pct.toFixed(1).padStart(5)} %  ${((pct / 100) * cpuUsPerRequest).toFixed(2).padStart(6)} µs/req  ${name}`;
  const short = (s: string) => s.replace(/\/\S*\/node_modules\//, '').replace(/\/\S*\/src\//, 'src/');
  return [
    `perf (on-CPU samples, shares of the router's ${cpuUsPerRequest.toFixed(1)} µs per request):`,
    'by area:',
    ...[...areas].sort((a, b) => b[1] - a[1]).map(([name, pct]) => `  ${line(pct, name)}`),
    `top ${top} symbols:`,
    ...rows
      .slice(0, top)
      .map((r) => `  ${line(r.pct, `${short(r.symbol)}${r.dso.startsWith('[JIT]') ? '' : `  [${r.dso}]`}`)}`),
  ];
}
