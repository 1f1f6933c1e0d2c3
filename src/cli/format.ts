// Small renderers shared by the commands' human output.
import { CutoverError, bareDurationHint, isBareDuration, parseDuration, parseDurationWithUnit } from '../shared/index.ts';
import type { InstanceSummary, InstanceTargetView } from '../api/index.ts';

/** `2026-11-20T10:00Z` from an answer's ISO time: minute precision reads better in tables; --json keeps the milliseconds. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '-';
  return `${new Date(iso).toISOString().slice(0, 16)}Z`;
}

/**
 * `--cursor` (the `next` a previous page printed), or the command's older name for it (`--after`,
 * `--before`), which keeps working; both at once is refused.
 */
export function cursorFlag(cursor: string | undefined, old: string | undefined, oldFlag: string): string | undefined {
  if (cursor !== undefined && old !== undefined) {
    throw new CutoverError('VALIDATION_FAILED', `${oldFlag} is the older name of --cursor: give only --cursor (the \`next\` of the previous page)`);
  }
  return cursor ?? old;
}

/** The milliseconds between two ISO times of an answer (a step's start and finish). */
export function msBetween(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}

/** `path?k=v&…` with the defined, non-empty values only. */
export function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

/** A declared target as the user typed it: `1.4.3`, `channel:beta`, or `-`. */
export function targetText(target: InstanceTargetView | null | undefined): string {
  if (!target) return '-';
  return 'version' in target ? target.version : `channel:${target.channel}`;
}

/** The declared target with what it resolves to now: `channel:beta → 1.2.0`, `1.4.3` or `-`. */
export function resolvedText(i: Pick<InstanceSummary, 'resolvedTarget'>): string {
  const r = i.resolvedTarget;
  if (r.kind === 'none') return '-';
  if (r.kind === 'version') return r.version;
  return `channel:${r.channel} → ${r.version ?? '(points nowhere)'}`;
}

/** `yes`, `no`, or `-` when there is no target to be on. */
export function onTargetText(i: Pick<InstanceSummary, 'resolvedTarget'>): string {
  return i.resolvedTarget.kind === 'none' ? '-' : i.resolvedTarget.onTarget ? 'yes' : 'no';
}

/** One-line JSON for table cells, shortened past `max` characters (--json has it whole). */
export function compactJson(value: unknown, max = 60): string {
  if (value === undefined || value === null) return '-';
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Indents every line of a block of text. */
export function indent(text: string, by = '  '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');
}

// Only a number with a unit is a duration: a bare number would be ambiguous with a timestamp.
const DURATION = /^\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*$/;

/**
 * A time flag as the ISO time the API takes: an ISO time as given, or a duration (`24h`, `7d`)
 * counted back from `now` (`ago`: `--since`) or forward (`ahead`: `--at`, `--until` of a hold).
 */
export function timeFlag(value: string | undefined, flag: string, now: number, direction: 'ago' | 'ahead'): string | undefined {
  if (value === undefined) return undefined;
  // Date.parse reads "5" as the year 2001: a bare number is a duration without its unit.
  if (isBareDuration(value)) {
    const n = value.trim();
    const like = direction === 'ago' ? 'a duration ago' : 'a duration from now';
    throw new CutoverError('VALIDATION_FAILED', `${flag} must be an ISO time like 2026-11-20T10:00:00Z or ${like} like ${n}h or ${n}d, not "${value}": a number needs a unit`);
  }
  if (DURATION.test(value)) {
    const ms = parseDuration(value)!;
    return new Date(direction === 'ago' ? now - ms : now + ms).toISOString();
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    const example = direction === 'ago' ? 'a duration ago like 24h or 7d' : 'a duration from now like 5h or 3d';
    throw new CutoverError('VALIDATION_FAILED', `${flag} must be an ISO time like 2026-11-20T10:00:00Z or ${example}, not "${value}"`);
  }
  return new Date(ms).toISOString();
}

/**
 * A duration flag in milliseconds (`--pause 2m`). A unit is required: a bare `5` read as 5 ms
 * was a trap (newcomer review §1.10.4); flags whose name carries the unit (`--retry-after
 * <seconds>`, `--soak-days <n>`) take bare numbers and do not come here.
 */
export function durationFlag(value: string, flag: string, example = '30s'): number {
  const ms = parseDurationWithUnit(value);
  if (ms !== undefined) return ms;
  if (isBareDuration(value)) throw new CutoverError('VALIDATION_FAILED', `${flag}: ${bareDurationHint(value)}`);
  throw new CutoverError('VALIDATION_FAILED', `${flag} must be a duration like ${example}, 500ms, 5m or 2h, not ${JSON.stringify(value)}`);
}

// C0 controls, DEL, C1 controls, and the Unicode bidi overrides/isolates that reorder what a
// terminal shows (CVE-2021-42574): none of them may reach a terminal from data (L2).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from the server (titles, reasons, labels, error messages, app output) with its control
 * characters written as escapes (`\x1b`, `\r`, `\u202e`), so it can neither move the cursor,
 * recolour, retitle or clear the terminal, nor forge a table row. `keep` lists characters the
 * caller's own layout uses (a text block keeps its newlines; a table cell keeps none).
 */
export function escapeControl(text: string, keep = ''): string {
  return text.replace(CONTROL, (c) => {
    if (keep.includes(c)) return c;
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
