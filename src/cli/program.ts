import { Command, CommanderError, Option } from 'commander';
import { registerProcessCommands } from './commands/processes.ts';
import { registerCatalogCommands } from './commands/catalog.ts';
import { registerDeploymentCommands } from './commands/deployments.ts';
import { registerLogsCommand } from './commands/logs.ts';
import { registerInstanceCommands } from './commands/instances.ts';
import { registerChannelCommands } from './commands/channels.ts';
import { registerProblemCommands } from './commands/problems.ts';
import { registerAuditCommands } from './commands/audit.ts';
import { registerTokenCommands } from './commands/tokens.ts';
import { registerJoinTokenCommands, registerMachineCommands } from './commands/machines.ts';
import { registerFleetCommands } from './commands/fleet.ts';
import { registerLocalCommands } from './commands/local.ts';
import { registerTrafficCommands } from './commands/traffic.ts';
import { registerLifecycleCommands } from './commands/lifecycle.ts';
import { registerSystemdCommands } from './commands/systemd.ts';
import { registerCompletionCommand } from './commands/completion.ts';
import { registerAppConfigCommands } from './commands/app-config.ts';
import { registerTlsCommands } from './commands/tls.ts';
import { ExitWith, FORMATS, formatIn, isStructured, reportError, serialise } from './output.ts';
import { escapeControl } from './format.ts';
import { versionAnswer } from './version-flag.ts';

/** Builds the `cutover` command tree. */
export function buildProgram(): Command {
  const program = new Command('cutover')
    .description('Zero-downtime blue-green releases with millisecond rollback')
    .option('--json', 'machine-readable output: the same as -o json')
    .addOption(new Option('-o, --output <format>', 'output format: json, yaml, table (the default) or wide (tables with more columns)').choices(FORMATS))
    .option('--data-dir <dir>', 'data directory (default ./.cutover, or CUTOVER_DATA_DIR)')
    .option('--timeout <duration>', 'how long to wait for each answer of the server, e.g. 30s or 2m (default 30s, or CUTOVER_TIMEOUT)')
    .option('--ca-file <file>', "PEM file of the CA (or the self-signed certificate) that the server's HTTPS certificate must chain to (or CUTOVER_CA_FILE); default: the system's CAs")
    .showSuggestionAfterError()
    .exitOverride()
    // Commander echoes what was typed (`unknown option '…'`): escaped like every other output (L2).
    // Set before the subcommands are added, which copy it.
    .configureOutput({ writeErr: (s) => process.stderr.write(escapeControl(s, '\n')) })
    // Not commander's .version(): a root option is matched anywhere on the line and would swallow
    // the `--version` of `instance target` and `problem list`. runCli answers it instead.
    .addHelpText('after', '\n`cutover --version` (or -V) prints the version.');
  registerProcessCommands(program);
  registerCatalogCommands(program);
  registerInstanceCommands(program);
  registerLifecycleCommands(program);
  registerDeploymentCommands(program);
  registerLogsCommand(program);
  registerTrafficCommands(program);
  registerChannelCommands(program);
  registerProblemCommands(program);
  registerAuditCommands(program);
  registerTokenCommands(program);
  registerJoinTokenCommands(program);
  registerMachineCommands(program);
  registerFleetCommands(program);
  registerAppConfigCommands(program);
  registerTlsCommands(program);
  registerLocalCommands(program);
  registerSystemdCommands(program);
  registerCompletionCommand(program);
  program.commands.forEach(function inherit(cmd: Command) {
    cmd.exitOverride();
    cmd.commands.forEach(inherit);
  });
  return program;
}

/** Runs the CLI and returns its exit code; errors are reported once here. */
export async function runCli(argv: string[]): Promise<number> {
  const version = versionAnswer(argv);
  if (version !== undefined) return version;
  const program = buildProgram();
  const format = formatIn(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command that printed its result but reports a failure in it (`fleet tick`) sets the exit code itself.
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof ExitWith) return error.exitCode;
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help
      if (isStructured(format)) process.stdout.write(serialise({ error: { code: 'VALIDATION_FAILED', message: error.message, details: {} } }, format as 'json'));
      return 2;
    }
    return reportError(error, format);
  }
}
