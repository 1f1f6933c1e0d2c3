/**
 * CPU time of other processes, read from Linux's /proc (utime + stime, in clock ticks), for
 * processes that cannot report their own `process.cpuUsage()` (nginx, the app).
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

let ticks: number | null = null;

/** Clock ticks per second (`getconf CLK_TCK`; 100 when it cannot be read). */
export function clockTicks(): number {
  if (ticks === null) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout.trim());
    ticks = out.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** Fields after the `(comm)` of /proc/<pid>/stat, so field 3 (state) is index 0. */
async function statFields(pid: number): Promise<string[] | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU time, µs. */
export interface CpuTime {
  userUs: number;
  systemUs: number;
}

/** user and system CPU of the processes, in µs (0 for one that is gone). Tick grain: 10 ms at 100 Hz. */
export async function cpuOf(pids: number[]): Promise<CpuTime> {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const f = await statFields(pid);
    // utime and stime are fields 14 and 15 of the stat line: indexes 11 and 12 here.
    if (f) {
      user += Number(f[11]);
      system += Number(f[12]);
    }
  }
  const us = 1e6 / clockTicks();
  return { userUs: user * us, systemUs: system * us };
}

/** Pids whose parent is `pid` (scans /proc; used for nginx's workers). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = await statFields(Number(name));
    // ppid is field 4: index 1 here.
    if (f && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** Resident set size of the processes, bytes (VmRSS of /proc/<pid>/status; 0 for one that is gone). */
export async function rssOf(pids: number[]): Promise<number> {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      kib += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib * 1024;
}
