import type { Command } from 'commander';
import { formatFrom, isStructured } from '../output.ts';
import type { Format } from '../output.ts';
import type { ConnectFlags } from '../api-client.ts';


/**
 * The options every command takes, wherever they were written on the command line. `json` is
 * true for every machine-readable format (`--json`, `-o json`, `-o yaml`): no prompts, no progress.
 */
export function globals(cmd: Command): { json: boolean; format: Format } & ConnectFlags {
  const all = cmd.optsWithGlobals() as { json?: boolean; output?: string; dataDir?: string; timeout?: string; caFile?: string };
  const format = formatFrom(all);
  return {
    json: isStructured(format),
    format,
    ...(all.dataDir ? { dataDir: all.dataDir } : {}),
    ...(all.timeout ? { timeout: all.timeout } : {}),
    ...(all.caFile ? { caFile: all.caFile } : {}),
  };
}
