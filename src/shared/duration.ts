/** Milliseconds in one day (24 hours of UTC time: a calendar day in a zone can be shorter or longer). */
export const DAY_MS = 86_400_000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/**
 * Parses `250ms`, `5s`, `1.5m`, `2h`, `14d` or a bare number of milliseconds.
 * Returns `undefined` for anything else, so callers can report the field by path.
 * The JSON API and manifests read bare numbers as milliseconds (the OpenAPI says so); what a
 * person types (CLI flags, settings) goes through {@link parseDurationWithUnit} instead.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNITS[match[2] ?? 'ms'];
  return unit === undefined ? undefined : Math.round(amount * unit);
}

/** True for a number without a unit (`30`, `"30"`, `" 1.5 "`), but not for zero, which needs none. */
export function isBareDuration(value: string | number): boolean {
  const text = String(value).trim();
  return /^\d+(?:\.\d+)?$/.test(text) && Number(text) !== 0;
}

/** What to say about a bare number: `"30" has no unit; write 30s or 30ms`. */
export function bareDurationHint(value: string | number): string {
  const n = String(value).trim();
  return `${JSON.stringify(String(value))} has no unit; write ${n}s or ${n}ms`;
}

/**
 * A duration a person typed (CLI flag, settings file, `CUTOVER_*` variable): a unit is required,
 * because a bare `5` meaning 5 ms silently turned a rollback window into nothing (newcomer
 * review §1.10.4). Zero needs no unit. Returns `undefined` for anything else; callers say why
 * with {@link bareDurationHint} when {@link isBareDuration} holds.
 */
export function parseDurationWithUnit(value: string | number): number | undefined {
  if (isBareDuration(value)) return undefined;
  return parseDuration(value);
}
