// The references generated from the code (issue 22): the CLI reference in docs/cli.md from
// commander's definitions, the settings table in docs/configuration.md from the settings schema.
// Each lives between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; the prose around
// the markers is written by hand. `npm run docs` (scripts/gen-docs.ts) rewrites them, and
// test/docs-drift.test.ts fails when a file differs from what this module renders now.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argument, Command, Option } from 'commander';
import { z } from 'zod';
import { buildProgram } from '../src/cli/program.ts';
import { configSchema, settingDocs, settingEnvName } from '../src/config/index.ts';
import type { SettingDoc } from '../src/config/index.ts';

/** One generated section: which file, which marker, and the text that belongs between its markers. */
export interface GeneratedSection {
  /** Path relative to the repository root. */
  file: string;
  name: string;
  content: string;
}

export const ROOT = join(import.meta.dirname, '..');

/** The processes whose flags set settings (`up` runs both server and agent). */
const PROCESS_COMMANDS = ['up', 'server', 'agent'] as const;

/**
 * The `cutover` command tree, built but not run. Awaited, so that the generator keeps working if
 * building it becomes asynchronous (commands registered from lazily imported modules).
 */
export async function cliProgram(): Promise<Command> {
  return await buildProgram();
}

/** Renders every generated section from the code as it is now. */
export function generatedSections(program: Command): GeneratedSection[] {
  return [
    { file: 'docs/cli.md', name: 'cli', content: renderCliReference(program) },
    { file: 'docs/configuration.md', name: 'settings', content: renderSettingsTable(program) },
  ];
}

/** Markdown table cell: one line, `|` escaped. */
function cell(text: string): string {
  return text.replace(/\r?\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

/**
 * Help text (plain, from commander) as Markdown: `<dir>` or `<data-dir>/private` outside code spans
 * would be read as HTML tags and vanish, so such words become code spans.
 */
function plain(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/(^|[\s(])((?:[^\s`()]*<[^>\s]+>[^\s`(),]*)+)/g, '$1`$2`')))
    .join('');
}

function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** `cutover instance create`: the command's path from the root, without the root's own name. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function visibleOptions(cmd: Command): readonly Option[] {
  return cmd.options.filter((o) => !o.hidden && o.long !== '--help');
}

function visibleSubcommands(cmd: Command): Command[] {
  // `_hidden` is commander's own flag for `.command(name, { hidden: true })`; it has no getter.
  return cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== 'help');
}

function optionRow(cmd: Command, option: Option): string[] {
  const help = cmd.createHelp();
  const extra = option.mandatory ? ' (required)' : '';
  return [code(help.optionTerm(option)), cell(plain(`${help.optionDescription(option)}${extra}`))];
}

function argumentRow(cmd: Command, argument: Argument): string[] {
  const help = cmd.createHelp();
  // commander's own help writes `<name>` for a required argument and `[name]` for an optional one.
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  const term = argument.required ? `<${name}>` : `[${name}]`;
  return [code(term), cell(plain(help.argumentDescription(argument) ?? ''))];
}

/** One command's section: usage, description, arguments, options, subcommands. */
function renderCommand(cmd: Command, out: string[]): void {
  const help = cmd.createHelp();
  const path = commandPath(cmd);
  out.push(`### ${path}`, '');
  out.push('```text', help.commandUsage(cmd).trim(), '```', '');
  const description = help.commandDescription(cmd).trim();
  if (description) out.push(plain(description), '');
  if (cmd.aliases().length) out.push(`Also: ${cmd.aliases().map((a) => code(a)).join(', ')}.`, '');
  const args = cmd.registeredArguments;
  if (args.length) out.push(table(['argument', 'meaning'], args.map((a) => argumentRow(cmd, a))), '');
  const options = visibleOptions(cmd);
  if (options.length) out.push(table(['option', 'meaning'], options.map((o) => optionRow(cmd, o))), '');
  const subs = visibleSubcommands(cmd);
  if (subs.length) {
    out.push(table(['command', 'what it does'], subs.map((s) => [code(commandPath(s)), cell(plain(help.subcommandDescription(s)))])), '');
  }
  for (const sub of subs) renderCommand(sub, out);
}

/** Every command, argument and option of `cutover`, in the order they are defined. */
export function renderCliReference(program: Command): string {
  const out: string[] = [];
  const help = program.createHelp();
  out.push('### Global options', '');
  out.push('Accepted before or after any command.', '');
  out.push(table(['option', 'meaning'], visibleOptions(program).map((o) => optionRow(program, o))), '');
  out.push('### Commands', '');
  out.push(
    table(
      ['command', 'what it does'],
      visibleSubcommands(program).map((s) => [code(commandPath(s)), cell(plain(help.subcommandDescription(s)))]),
    ),
    '',
  );
  for (const cmd of visibleSubcommands(program)) renderCommand(cmd, out);
  return out.join('\n').trimEnd();
}

/** The default a key's schema gives, before any transform (`'30m'`, not 1800000). */
function schemaDefault(schema: z.ZodType): unknown {
  let s: unknown = schema;
  for (let depth = 0; depth < 10; depth++) {
    if (s instanceof z.ZodDefault) return (s as z.ZodDefault<z.ZodType>).def.defaultValue;
    if (s instanceof z.ZodPipe) s = (s as z.ZodPipe<z.ZodType, z.ZodType>).in;
    else return undefined;
  }
  return undefined;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Which flag sets a key: a global option, or an option of the process commands. */
function settingFlag(program: Command, key: string): string {
  const flag = `--${kebab(key)}`;
  if (program.options.some((o) => o.long === flag)) return `${code(flag)} (global)`;
  const processes = PROCESS_COMMANDS.map((name) => program.commands.find((c) => c.name() === name)).filter(
    (c): c is Command => c !== undefined,
  );
  const with_ = processes.filter((c) => c.options.some((o) => o.long === flag)).map((c) => c.name());
  if (with_.length === 0) return '—';
  if (with_.length === processes.length) return code(flag);
  return `${code(flag)} (${with_.map((n) => code(n)).join(', ')})`;
}

/** The settings table: every key of `configSchema`, with default, environment variable, flag, users, meaning. */
function renderSettingsTable(program: Command): string {
  const docs: Record<string, SettingDoc> = settingDocs;
  const rows = Object.entries(configSchema.shape).map(([key, schema]) => {
    const doc = docs[key];
    if (!doc) throw new Error(`setting ${key} has no entry in settingDocs (src/config/setting-docs.ts)`);
    const fallback = schemaDefault(schema as z.ZodType);
    const shown = doc.shownDefault ?? (fallback === undefined ? '_(none)_' : code(String(fallback)));
    const description = (schema as z.ZodType).description;
    if (!description) throw new Error(`setting ${key} has no .describe() in configSchema (src/config/config.ts)`);
    return [code(key), shown, code(settingEnvName(key)), settingFlag(program, key), doc.usedBy, cell(description)];
  });
  return table(['key', 'default', 'environment', 'flag', 'used by', 'meaning'], rows);
}

const markers = (name: string) => ({ open: `<!-- generated:${name} -->`, close: `<!-- /generated:${name} -->` });

/** The text between a section's markers, or undefined when the file lacks them. */
function readSection(text: string, name: string): string | undefined {
  const { open, close } = markers(name);
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + open.length, end).replace(/^\n+|\n+$/g, '');
}

/** The file with its section replaced; the markers must be there, once each. */
export function replaceSection(text: string, name: string, content: string): string {
  const { open, close } = markers(name);
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start || text.indexOf(open, start + 1) >= 0) {
    throw new Error(`expected one ${open} … ${close} pair`);
  }
  return `${text.slice(0, start + open.length)}\n\n${content}\n\n${text.slice(end)}`;
}

/** What differs between the files and the code: one line per stale section, naming the first differing line. */
export function staleSections(sections: GeneratedSection[], root = ROOT): string[] {
  const problems: string[] = [];
  for (const { file, name, content } of sections) {
    const text = readFileSync(join(root, file), 'utf8');
    const current = readSection(text, name);
    if (current === undefined) {
      problems.push(`${file}: no <!-- generated:${name} --> … <!-- /generated:${name} --> markers`);
      continue;
    }
    if (current === content) continue;
    const a = current.split('\n');
    const b = content.split('\n');
    const i = b.findIndex((line, n) => line !== a[n]);
    const at = i < 0 ? b.length : i;
    // The section's first line is two lines below its opening marker (replaceSection's layout).
    const markerLine = text.slice(0, text.indexOf(markers(name).open)).split('\n').length;
    problems.push(
      `${file}:${markerLine + 2 + at} (generated:${name}) is out of date:\n` +
        `    in the file:    ${JSON.stringify(a[at] ?? '(end)')}\n` +
        `    from the code:  ${JSON.stringify(b[at] ?? '(end)')}`,
    );
  }
  return problems;
}
