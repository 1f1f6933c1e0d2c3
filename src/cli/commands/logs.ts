import type { Command } from 'commander';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { escapeControl } from '../format.ts';
import { serialise } from '../output.ts';
import { NO_WIDTHS, isLabelledLine, logPrefix } from '../log-prefix.ts';
import type { LabelledLogLine } from '../log-prefix.ts';
import { globals } from './globals.ts';

/** The server's NDJSON answer, one labelled line at a time (chunks split anywhere, UTF-8 included). */
async function* labelledLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<LabelledLogLine> {
  const decoder = new TextDecoder();
  let pending = '';
  const parse = (text: string): LabelledLogLine | undefined => {
    const value: unknown = text.trim() ? JSON.parse(text) : undefined;
    return isLabelledLine(value) ? value : undefined;
  };
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const entry = parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (entry) yield entry;
    }
  }
  const last = parse(pending + decoder.decode());
  if (last) yield last;
}

interface LogsFlags {
  color?: string;
  tail: string;
  follow?: boolean;
  raw?: boolean;
  prefix: boolean;
  machine?: string;
}

export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description(
      "print a slot's output (the active slot unless --color), each line labelled `machine instance app@version colour |` (`local` while instances are not placed on machines); with --json, one JSON object per line: {machine, instance, app, version, color, line}",
    )
    .argument('<instance>', 'instance name')
    .option('--color <color>', 'blue or green')
    .option('--machine <name>', 'an instance on several machines: read this machine (default: the first connected one)')
    .option('--tail <n>', 'lines from the end', '100')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--no-prefix', "print the app's lines alone, without the label")
    .option('--raw', "print the app's text as it is, colours and other terminal controls included (default: escaped)")
    .action(async (instance: string, opts: LogsFlags, cmd: Command) => {
      const g = globals(cmd);
      if (opts.color !== undefined && opts.color !== 'blue' && opts.color !== 'green') {
        throw new CutoverError('VALIDATION_FAILED', `--color must be blue or green, not "${opts.color}"`);
      }
      if (!/^\d+$/.test(opts.tail)) throw new CutoverError('VALIDATION_FAILED', `--tail must be a number of lines, not "${opts.tail}"`);
      const client = await connect(g);
      const q = new URLSearchParams({
        tail: opts.tail,
        format: 'ndjson',
        ...(opts.color ? { color: opts.color } : {}),
        ...(opts.machine ? { machine: opts.machine } : {}),
        ...(opts.follow ? { follow: '1' } : {}),
      });
      const body = await client.stream(`${apiPath('instances', instance, 'logs')}?${q}`);
      let widths = NO_WIDTHS;
      for await (const entry of labelledLines(body)) {
        if (g.json) {
          // NDJSON (or a YAML document per line), written as each line arrives: --follow streams too.
          process.stdout.write(g.format === 'yaml' ? `---\n${serialise(entry, 'yaml')}` : `${JSON.stringify(entry)}\n`);
          continue;
        }
        // An app's output is data too (L2): its control characters are escaped unless --raw.
        const line = opts.raw ? entry.line : escapeControl(entry.line, '\t');
        if (!opts.prefix) {
          process.stdout.write(`${line}\n`);
          continue;
        }
        const labelled = logPrefix(entry, widths);
        widths = labelled.widths;
        process.stdout.write(`${escapeControl(labelled.prefix)}${line}\n`);
      }
    });
}
