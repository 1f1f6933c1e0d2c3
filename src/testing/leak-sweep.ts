// Where a planted secret could leak outside the answers a test reads: files and other processes.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Every regular file under `dir`, recursively (sockets and links left out). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

/** A process whose command line or environment holds what was looked for. */
export interface HoldingProcess {
  pid: string;
  where: 'cmdline' | 'environ';
  /** The instance its environment names (`CUTOVER_INSTANCE`): a slot's process. */
  instance: string | undefined;
  exe: string;
}

/** Every process of the machine whose command line or environment holds `needle`. */
export async function processesHolding(needle: string): Promise<HoldingProcess[]> {
  const found: HoldingProcess[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '?');
    const instance = environ.split('\0').find((kv) => kv.startsWith('CUTOVER_INSTANCE='))?.slice('CUTOVER_INSTANCE='.length);
    if (cmdline.includes(needle)) found.push({ pid, where: 'cmdline', instance, exe });
    if (environ.includes(needle)) found.push({ pid, where: 'environ', instance, exe });
  }
  return found;
}
