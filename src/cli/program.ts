import { Command, CommanderError } from 'commander';
import { registerProcessCommands } from './commands/processes.ts';
import { registerCatalogCommands } from './commands/catalog.ts';
import { registerDeploymentCommands } from './commands/deployments.ts';
import { reportError } from './output.ts';

/** Builds the `cutover` command tree. */
export function buildProgram(): Command {
  const program = new Command('cutover')
    .description('Zero-downtime blue-green releases with millisecond rollback')
    .version('0.1.0')
    .option('--json', 'machine-readable output')
    .option('--data-dir <dir>', 'data directory (default ./.cutover, or CUTOVER_DATA_DIR)')
    .showSuggestionAfterError()
    .exitOverride();
  registerProcessCommands(program);
  registerCatalogCommands(program);
  registerDeploymentCommands(program);
  program.commands.forEach(function inherit(cmd: Command) {
    cmd.exitOverride();
    cmd.commands.forEach(inherit);
  });
  return program;
}

/** Runs the CLI and returns its exit code; errors are reported once here. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: error.message, details: {} } })}\n`);
      return 2;
    }
    return reportError(error, json);
  }
}
