// Maintenance windows: when, in an instance's own local time, the fleet scheduler may change it.
// This file holds the data model and its text form; `window-at.ts` answers "is it open now?".
import { CutoverError } from '../shared/index.ts';
import { findTimeZone } from './time-zone.ts';

/** A day of the week, as written in window texts. */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Monday first (ISO order); index = bit position in day masks. */
export const WEEKDAYS: readonly Weekday[] = Object.freeze(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/**
 * One recurring opening: on each of `days`, from wall time `start` to wall time `end` in `zone`.
 * When `end <= start` the opening crosses midnight and closes on the next day; `days` names the day
 * it OPENS (so `fri 22:00-02:00` runs Friday night into Saturday).
 */
export interface WindowRule {
  /** Days on which an opening starts, Monday first, without repeats. */
  readonly days: readonly Weekday[];
  /** Opening wall time, minutes after local midnight (0–1439). */
  readonly start: number;
  /** Closing wall time, minutes after local midnight (0–1439), never equal to `start`. */
  readonly end: number;
  /** IANA zone name (`Europe/London`) or `UTC`. */
  readonly zone: string;
}

/**
 * When an instance may be changed: always, never, or the union of recurring rules.
 * Plain, frozen data (JSON-friendly); build it with {@link parseWindow}.
 */
export type MaintenanceWindow =
  | { readonly kind: 'anytime' }
  | { readonly kind: 'never' }
  | { readonly kind: 'rules'; readonly rules: readonly WindowRule[] };

const EXAMPLE = '"daily 01:00-04:00 Europe/London"';
const FORMS =
  'write "anytime", "never", or rules such as "daily 01:00-04:00 Europe/London", ' +
  '"weekdays 22:00-02:00 America/New_York", "mon,wed,fri 03:00-05:00 Asia/Tokyo", joined with ";"';

const DAY_WORDS: Readonly<Record<string, number>> = {
  mon: 0,
  monday: 0,
  tue: 1,
  tues: 1,
  tuesday: 1,
  wed: 2,
  wednesday: 2,
  thu: 3,
  thur: 3,
  thurs: 3,
  thursday: 3,
  fri: 4,
  friday: 4,
  sat: 5,
  saturday: 5,
  sun: 6,
  sunday: 6,
};
const ALL_DAYS = 0b1111111;
const WEEKDAY_MASK = 0b0011111;
const WEEKEND_MASK = 0b1100000;
const DAY_SETS: Readonly<Record<string, number>> = {
  daily: ALL_DAYS,
  weekdays: WEEKDAY_MASK,
  weekends: WEEKEND_MASK,
};

/** A time range: two time-like tokens around a dash (loose, so "25:00" or "1.30" get a precise error). */
const RANGE = /(?:^|\s)(\d[\w:.]*)\s*-\s*(\d[\w:.]*)(?=\s|$)/;

function fail(text: string, part: string, problem: string, example = EXAMPLE): CutoverError {
  return new CutoverError(
    'VALIDATION_FAILED',
    `Maintenance window "${text}" is invalid: ${problem}. Example of a valid window: ${example}.`,
    { details: { window: text, part } },
  );
}

/**
 * Reads a maintenance window. Accepted forms (keywords case-insensitive):
 * - `anytime`, `never`;
 * - `<days> HH:MM-HH:MM <zone>`, where days is `daily`, `weekdays`, `weekends`, or a comma list of
 *   days and ranges (`mon,wed,fri`, `sat-sun`, `fri-mon`); an end at or before the start means the
 *   opening crosses midnight and the days name the day it opens;
 * - several rules joined with `;`, meaning their union.
 * The zone must be an IANA name (`Europe/London`) or `UTC`.
 * @throws CutoverError `VALIDATION_FAILED` naming the bad part and showing a valid example.
 */
export function parseWindow(text: string): MaintenanceWindow {
  // A fleet shares a few hundred window texts; handing back the same frozen object lets
  // `windowAt` reuse what it derived from it (zone, masks, openings per day).
  const cached = parsedWindows.get(text);
  if (cached) return cached;
  const parsed = parseUncached(text);
  if (parsedWindows.size >= MAX_CACHED_TEXTS) parsedWindows.clear();
  parsedWindows.set(text, parsed);
  return parsed;
}

const MAX_CACHED_TEXTS = 4096;
const parsedWindows = new Map<string, MaintenanceWindow>();

function parseUncached(text: string): MaintenanceWindow {
  const trimmed = text.trim();
  if (trimmed === '') throw fail(text, '', `it is empty; ${FORMS}`);
  const keyword = trimmed.toLowerCase();
  if (keyword === 'anytime' || keyword === 'never') return Object.freeze({ kind: keyword });
  const parts = trimmed.split(';').map((p) => p.trim());
  const rules = parts.map((part, index) => {
    if (part === '') throw fail(text, part, `rule ${index + 1} is empty; remove the extra ";"`);
    const word = part.toLowerCase();
    if (word === 'anytime' || word === 'never') {
      throw fail(text, part, `"${part}" cannot be combined with other rules; use it alone`);
    }
    return parseRule(text, part);
  });
  return Object.freeze({ kind: 'rules', rules: Object.freeze(rules) });
}

function parseRule(text: string, rule: string): WindowRule {
  const range = RANGE.exec(rule);
  if (!range) {
    throw fail(text, rule, `rule "${rule}" has no time range; give opening and closing times as HH:MM-HH:MM`);
  }
  const [whole, from = '', to = ''] = range;
  const daysText = rule.slice(0, range.index).trim();
  const zoneText = rule.slice(range.index + whole.length).trim();
  if (daysText === '') {
    throw fail(
      text,
      rule,
      `rule "${rule}" does not say on which days; start it with daily, weekdays, weekends or days such as mon,wed,fri`,
    );
  }
  const start = parseTime(text, from);
  const end = parseTime(text, to);
  if (zoneText === '') {
    throw fail(
      text,
      rule,
      `rule "${rule}" has no time zone; add an IANA zone after the times, such as Europe/London, America/New_York or UTC`,
    );
  }
  if (/\s/.test(zoneText)) {
    throw fail(
      text,
      zoneText,
      `"${zoneText}" is not one time zone; put exactly one IANA zone after the times`,
    );
  }
  const zone = findTimeZone(zoneText);
  if (!zone) {
    throw fail(
      text,
      zoneText,
      `unknown time zone "${zoneText}"; use an IANA zone name such as Europe/London, America/New_York, Asia/Kolkata or UTC`,
    );
  }
  if (start === end) {
    throw fail(
      text,
      `${from}-${to}`,
      `the rule opens and closes at the same time (${from}-${to}); use "anytime" for a window that is always open, or give two different times`,
      '"anytime"',
    );
  }
  const mask = parseDays(text, daysText);
  return Object.freeze({
    days: Object.freeze(WEEKDAYS.filter((_, i) => mask & (1 << i))),
    start,
    end,
    zone: zone.name,
  });
}

function parseTime(text: string, token: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(token);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  if (!match || hours > 23 || minutes > 59) {
    throw fail(
      text,
      token,
      `"${token}" is not a time of day; write HH:MM between 00:00 and 23:59 (24-hour clock)`,
      '"daily 22:00-02:00 UTC"',
    );
  }
  return hours * 60 + minutes;
}

function parseDays(text: string, daysText: string): number {
  const compact = daysText.toLowerCase().replace(/\s+/g, '');
  const set = DAY_SETS[compact];
  if (set !== undefined) return set;
  let mask = 0;
  for (const item of compact.split(',')) {
    const [first = '', last, extra] = item.split('-');
    const from = DAY_WORDS[first];
    const to = last === undefined ? from : DAY_WORDS[last];
    if (from === undefined || to === undefined || extra !== undefined) {
      const bad = from === undefined ? first || item : item;
      throw fail(
        text,
        bad,
        `unknown day "${bad}"; use daily, weekdays, weekends, or days (mon tue wed thu fri sat sun) as a list or range such as mon,wed,fri or sat-sun`,
        '"mon,wed,fri 03:00-05:00 Asia/Tokyo"',
      );
    }
    // Ranges wrap around the week: fri-mon is Friday, Saturday, Sunday, Monday.
    for (let day = from; ; day = (day + 1) % 7) {
      mask |= 1 << day;
      if (day === to) break;
    }
  }
  return mask;
}

/**
 * The canonical text of a window: lower-case keywords, days Monday first (`daily`, `weekdays`,
 * `weekends` where they fit, runs of three or more days as ranges), two-digit times, rules joined
 * with `"; "` in their given order. `parseWindow(formatWindow(w))` equals `w`.
 */
export function formatWindow(window: MaintenanceWindow): string {
  if (window.kind !== 'rules') return window.kind;
  if (window.rules.length === 0) return 'never';
  return window.rules.map(formatRule).join('; ');
}

function formatRule(rule: WindowRule): string {
  return `${formatDays(rule.days)} ${formatTime(rule.start)}-${formatTime(rule.end)} ${rule.zone}`;
}

function formatTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function formatDays(days: readonly Weekday[]): string {
  let mask = 0;
  for (const day of days) mask |= 1 << WEEKDAYS.indexOf(day);
  for (const [word, set] of Object.entries(DAY_SETS)) if (mask === set) return word;
  const pieces: string[] = [];
  for (let i = 0; i < 7; i += 1) {
    if (!(mask & (1 << i))) continue;
    let j = i;
    while (j + 1 < 7 && mask & (1 << (j + 1))) j += 1;
    if (j - i >= 2) pieces.push(`${WEEKDAYS[i]}-${WEEKDAYS[j]}`);
    else for (let k = i; k <= j; k += 1) pieces.push(WEEKDAYS[k] ?? '');
    i = j;
  }
  return pieces.join(',');
}

