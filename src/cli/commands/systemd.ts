import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { output } from '../output.ts';
import { DEFAULT_DATA_DIR, DEFAULT_PID_FILE, systemdUnits } from '../systemd-units.ts';
import { packageRoot } from '../version.ts';
import { globals } from './globals.ts';

/** `cutover systemd-units`: the server's and the agent's units with this install's real paths (docs/install.md). */
export function registerSystemdCommands(program: Command): void {
  program
    .command('systemd-units')
    .description(
      `print (or --write) the systemd units for cutover server and cutover agent, pointing at this install. The data directory is --data-dir (default ${DEFAULT_DATA_DIR} here, not ./.cutover). See docs/install.md`,
    )
    .option('--config <file>', 'settings file both processes read (e.g. /etc/cutover/cutover.yml)')
    .option('--pid-file <file>', `the agent's pid file for systemd (default ${DEFAULT_PID_FILE})`)
    .option(
      '--write <dir>',
      'write cutover-agent.service and cutover-server.service into this directory (e.g. /etc/systemd/system)',
    )
    .action(async (opts: { config?: string; pidFile?: string; write?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const units = systemdUnits({
        bin: join(packageRoot(), 'bin', 'cutover'),
        dataDir: resolve(g.dataDir ?? DEFAULT_DATA_DIR),
        ...(opts.config ? { config: resolve(opts.config) } : {}),
        pidFile: resolve(opts.pidFile ?? DEFAULT_PID_FILE),
      });
      if (opts.write) {
        await mkdir(opts.write, { recursive: true });
        for (const [name, text] of Object.entries(units))
          await writeFile(join(opts.write, name), text, { mode: 0o644 });
      }
      const written = opts.write
        ? Object.keys(units).map((name) => join(resolve(opts.write!), name))
        : undefined;
      out.result({ units, ...(written ? { written } : {}) }, () =>
        written
          ? [
              `wrote ${written.join(' and ')}`,
              'then: systemctl daemon-reload && systemctl enable --now cutover-agent cutover-server',
            ].join('\n')
          : Object.entries(units)
              .map(([name, text]) => `# ---- ${name}\n${text}`)
              .join('\n'),
      );
    });
}
