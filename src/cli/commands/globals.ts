import type { Command } from 'commander';

/** The options every command takes, wherever they were written on the command line. */
export function globals(cmd: Command): { json: boolean; dataDir?: string; timeout?: string } {
  const all = cmd.optsWithGlobals() as { json?: boolean; dataDir?: string; timeout?: string };
  return { json: all.json === true, ...(all.dataDir ? { dataDir: all.dataDir } : {}), ...(all.timeout ? { timeout: all.timeout } : {}) };
}
