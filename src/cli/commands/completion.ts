import { Argument } from 'commander';
import type { Command } from 'commander';
import { bashCompletion, zshCompletion } from '../completion.ts';
import { output } from '../output.ts';
import { globals } from './globals.ts';

/** `completion bash|zsh`: the shell's completion script, generated from this command tree. */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description(
      'print the shell completion script: source <(cutover completion bash), or zsh (see docs/cli-output-and-completion.md)',
    )
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh', _opts: object, cmd: Command) => {
      const script = shell === 'bash' ? bashCompletion(program) : zshCompletion(program);
      output(globals(cmd).format).result({ shell, script }, () => script.trimEnd());
    });
}
