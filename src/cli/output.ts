import { isCutoverError } from '../shared/index.ts';
import { escapeControl } from './format.ts';

// Human output is escaped here, once, for every command (L2): a line keeps its newlines and tabs;
// --json output is JSON.stringify's, which escapes every control character itself.
const text = (s: string) => escapeControl(s, '\n\t');

const CONFLICTS = new Set([
  'RELEASE_EXISTS',
  'INSTANCE_EXISTS',
  'HOST_IN_USE',
  'PORT_IN_USE',
  'AGENT_RUNNING',
  'INSTANCE_LOCKED',
  'NOTHING_TO_ROLL_BACK',
  'ALREADY_ROLLED_BACK',
  'ALREADY_ON_VERSION',
  'SLOT_ACTIVE',
  'SLOT_BUSY',
  'CHANNEL_EXISTS',
  'CHANNEL_MOVED',
  'PROBLEM_RESOLVED',
  'TOKEN_EXISTS',
  'LAST_ADMIN_TOKEN',
  'SELECTION_CHANGED',
  'DEPLOYMENT_NOT_RUNNING',
]);

/** Exit codes: the one place error codes become them. Documented in docs/operations.md ("Exit codes"). */
export function exitCodeFor(code: string): number {
  if (['VALIDATION_FAILED', 'MANIFEST_INVALID', 'CONFIG_INVALID', 'ARTIFACT_INVALID', 'BODY_TOO_LARGE'].includes(code)) return 2;
  if (code.endsWith('_NOT_FOUND')) return 3;
  if (CONFLICTS.has(code)) return 4;
  if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') return 5;
  if (code === 'SERVER_UNREACHABLE' || code === 'AGENT_UNREACHABLE') return 6;
  if (code === 'DEPLOYMENT_FAILED' || code === 'DEPLOYMENT_ABORTED' || code === 'ANALYSIS_FAILED') return 7;
  if (code.startsWith('POLICY_')) return 8;
  if (code === 'AUDIT_CHAIN_BROKEN') return 9;
  if (code === 'DISK_FULL') return 10;
  if (code === 'NOT_ROUTED_AS_RECORDED') return 11;
  return 1;
}

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
  json: boolean;
  /** Human lines (suppressed with --json). */
  say(line: string): void;
  /** Progress on long work: stderr, so stdout stays clean for pipes. */
  progress(line: string): void;
  /** The result: JSON with --json, else the human rendering. */
  result(data: unknown, human: () => string): void;
}

export function output(json: boolean): Output {
  return {
    json,
    say(line) {
      if (!json) process.stdout.write(`${text(line)}\n`);
    },
    progress(line) {
      if (!json) process.stderr.write(`${text(line)}\n`);
    },
    result(data, human) {
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text(human())}\n`);
    },
  };
}

/** Prints an error (JSON on stdout with --json, words on stderr otherwise) and returns the exit code. */
export function reportError(error: unknown, json: boolean): number {
  const e = isCutoverError(error)
    ? error.toJSON()
    : { code: 'INTERNAL', message: (error as Error)?.message ?? String(error), details: {} };
  if (json) process.stdout.write(`${JSON.stringify({ error: e }, null, 2)}\n`);
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
