import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { CutoverError, exitCodeFor, isCutoverError } from '../shared/index.ts';
import { escapeControl } from './format.ts';

/**
 * `-o`/`--output`: `json` and `yaml` print the result as data (the same document either way);
 * `table` is the human rendering, `wide` the same with more columns where a table has more to show.
 * `--json` is `-o json`.
 */
export const FORMATS = ['json', 'yaml', 'table', 'wide'] as const;
export type Format = (typeof FORMATS)[number];

/** Whether a format prints data (json, yaml) rather than words for a person. */
export const isStructured = (format: Format): boolean => format === 'json' || format === 'yaml';

/**
 * The format from the two flags once commander has parsed them. `--json` with another `-o` is a
 * contradiction, refused rather than guessed.
 */
export function formatFrom(flags: { json?: boolean; output?: string }): Format {
  const o = flags.output as Format | undefined;
  if (o !== undefined && !FORMATS.includes(o)) {
    throw new CutoverError('VALIDATION_FAILED', `-o/--output must be one of ${FORMATS.join(', ')}, not "${o}"`);
  }
  if (flags.json && o !== undefined && o !== 'json') {
    throw new CutoverError('VALIDATION_FAILED', `--json is -o json: give one of --json and -o ${o}`);
  }
  return flags.json ? 'json' : (o ?? 'table');
}

/**
 * The format read from raw argv, for what is printed before or without commander's parse (the
 * `--version` answer, commander's own errors): the last `-o`/`--output` value, else `--json`. An
 * unknown value reads as `table`; commander refuses it with the allowed ones.
 */
export function formatIn(argv: readonly string[]): Format {
  let found: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--json') found ??= 'json';
    else if (a === '-o' || a === '--output') found = argv[i + 1];
    else if (a.startsWith('--output=')) found = a.slice('--output='.length);
    else if (a.startsWith('-o') && a.length > 2 && !a.startsWith('--')) found = a.slice(2);
  });
  return FORMATS.includes(found as Format) ? (found as Format) : 'table';
}

/** Data as the structured format asks: pretty JSON, or YAML (the yaml package, loaded only for -o yaml). */
export function serialise(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;
  // JSON's view of the data (dates as strings, no undefined), then YAML: the two formats agree.
  return yaml.stringify(JSON.parse(JSON.stringify(data ?? null)), { lineWidth: 0 });
}

// Human output is escaped here, once, for every command (L2): a line keeps its newlines and tabs;
// --json output is JSON.stringify's, which escapes every control character itself.
const text = (s: string) => escapeControl(s, '\n\t');

/** Exit codes: error codes become them through the one table in `shared/` (docs/operations.md, "Exit codes"). */
export { exitCodeFor };

/**
 * Ends a command with `code` after it has printed its result: for answers that are not errors
 * but must fail a script (`status` finding an instance not routed as recorded). `runCli` returns
 * the code without printing anything more.
 */
export class ExitWith extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export interface Output {
  format: Format;
  /** Machine-readable output (json or yaml): human lines and progress are not printed. */
  json: boolean;
  /** Human lines (not printed with json or yaml). */
  say(line: string): void;
  /** Progress on long work: stderr, so stdout stays clean for pipes. */
  progress(line: string): void;
  /** A warning (a deprecated flag or key): stderr, with json and yaml too, so stdout stays the result. */
  warn(line: string): void;
  /**
   * The result: `data` as JSON or YAML, else the human rendering; `human` gets `wide` for `-o wide`
   * (a table with more columns; renderings without more to show ignore it).
   */
  result(data: unknown, human: (wide: boolean) => string): void;
}

/** The output of one command in `format`. */
export function output(f: Format): Output {
  const structured = isStructured(f);
  return {
    format: f,
    json: structured,
    say(line) {
      if (!structured) process.stdout.write(`${text(line)}\n`);
    },
    progress(line) {
      if (!structured) process.stderr.write(`${text(line)}\n`);
    },
    warn(line) {
      process.stderr.write(`warning: ${text(line)}\n`);
    },
    result(data, human) {
      process.stdout.write(structured ? serialise(data, f as 'json' | 'yaml') : `${text(human(f === 'wide'))}\n`);
    },
  };
}

/** Prints an error (JSON or YAML on stdout with -o json|yaml, words on stderr otherwise) and returns the exit code. */
export function reportError(error: unknown, f: Format): number {
  const e = isCutoverError(error)
    ? error.toJSON()
    : { code: 'INTERNAL', message: (error as Error)?.message ?? String(error), details: {} };
  if (isStructured(f)) process.stdout.write(serialise({ error: e }, f as 'json' | 'yaml'));
  else {
    const failures = (e.details as { failures?: unknown }).failures;
    if (Array.isArray(failures) && failures.length > 0) {
      // A policy refusal: one line per failed rule, each already led by its code
      // (`POLICY_SOAK_NOT_MET: 9 days of 14 on release; eligible …`).
      const lines = failures.map((f: { message?: unknown }) => `refused: ${escapeControl(String(f.message))}`);
      process.stderr.write(`${lines.join('\n')}\n`);
    } else process.stderr.write(`error [${e.code}]: ${text(e.message)}\n`);
    const tail = (e.details as { logTail?: unknown }).logTail;
    if (Array.isArray(tail) && tail.length) process.stderr.write(`last output of the app:\n${tail.map((l) => `  ${escapeControl(String(l), '\t')}`).join('\n')}\n`);
  }
  return exitCodeFor(e.code);
}

/** A plain text table. Cells are escaped whole: a newline in a reason cannot start a forged row. */
export function table(cells: string[][]): string {
  if (cells.length === 0) return '';
  const rows = cells.map((r) => r.map((c) => escapeControl(c ?? '')));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
