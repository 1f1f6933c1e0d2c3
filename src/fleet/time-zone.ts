// Wall-clock ↔ instant conversion for IANA zones, built on `Intl.DateTimeFormat` rather than luxon.
//
// Why not luxon: measured on Node 24, `DateTime.fromObject(..., { zone })` costs ~14 µs and
// `DateTime.fromMillis(..., { zone })` ~6 µs, because every call allocates and re-derives the offset
// through Intl. One `windowAt` needs 6–10 wall→instant conversions, and the fleet scheduler makes
// 100,000 calls per pass: with luxon that is seconds, over the 2 s budget. Here each zone keeps an
// hour-bucket cache of UTC offsets (filled from one shared `Intl.DateTimeFormat` per zone), so a
// lookup is a Map read and calendar maths is plain integer arithmetic. Luxon stays in the tests as an
// independent oracle for the offsets.
//
// The caches are module-level on purpose: they memoise facts about the tz database (which is fixed for
// the life of the process), hold no configuration, and are bounded in size.

import { DAY_MS } from '../shared/index.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
// Wall times are expressed as `epochDay * DAY_MS + msOfDay` (a wall-clock day is always 24 h long).

/** Cached hours per zone before the cache is dropped; ~4 years of hourly lookups, a few MB at most. */
const MAX_BUCKETS_PER_ZONE = 40_000;
const MAX_CACHED_NAMES = 2_000;

/**
 * The offset of one zone during one UTC hour: `before` until `at`, `after` from `at` on. `at` is the
 * instant of a transition inside the hour (possibly its very start), or +Infinity.
 */
interface OffsetBucket {
  readonly before: number;
  readonly after: number;
  readonly at: number;
}

/**
 * One IANA zone with cached offsets. Assumes at most one offset transition per UTC hour and none
 * closer than a day to another, which holds for every zone in the tz database since 1970.
 */
export class TimeZone {
  readonly name: string;
  readonly #format: Intl.DateTimeFormat;
  readonly #buckets = new Map<number, OffsetBucket>();

  constructor(name: string, format: Intl.DateTimeFormat) {
    this.name = name;
    this.#format = format;
  }

  /** UTC offset in ms (local = instant + offset) in force at `instant`. */
  offsetAt(instant: number): number {
    const index = Math.floor(instant / HOUR_MS);
    const bucket = this.#buckets.get(index) ?? this.#fill(index);
    return instant < bucket.at ? bucket.before : bucket.after;
  }

  /** The local wall time at `instant`, as ms since the epoch in a zone-less (UTC-like) calendar. */
  wallAt(instant: number): number {
    return instant + this.offsetAt(instant);
  }

  /**
   * The instant at which the local clock shows `wall` (zone-less ms), choosing, when the wall time
   * occurs twice (fall back), its first occurrence, and when it does not exist (spring forward),
   * the first instant after the gap, i.e. the transition itself. The mapping is non-decreasing in
   * `wall`, which keeps openings built from it ordered and disjoint.
   */
  instantOf(wall: number): number {
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    const early = wall - before;
    if (before === after) {
      if (this.offsetAt(early) === before) return early;
      // Two transitions within two days: not in the tz database since 1970; fall back to a search.
      return this.#slowInstantOf(wall);
    }
    const late = wall - after;
    const earlyValid = this.offsetAt(early) === before;
    const lateValid = this.offsetAt(late) === after;
    if (earlyValid && lateValid) return Math.min(early, late);
    if (earlyValid) return early;
    if (lateValid) return late;
    return this.#transitionIn(Math.min(early, late), Math.max(early, late));
  }

  #slowInstantOf(wall: number): number {
    // Walk the possible offsets hour by hour across the two days around `wall`: rare, so clarity wins.
    let first: number | undefined;
    for (let t = wall - 2 * DAY_MS; t <= wall + 2 * DAY_MS; t += 15 * MINUTE_MS) {
      const candidate = wall - this.offsetAt(t);
      if (this.offsetAt(candidate) + candidate === wall && (first === undefined || candidate < first)) {
        first = candidate;
      }
    }
    if (first !== undefined) return first;
    return this.#transitionIn(wall - 2 * DAY_MS, wall + 2 * DAY_MS);
  }

  /** The first transition in (from, to], or `to` when the cache saw none (cannot happen for a real gap). */
  #transitionIn(from: number, to: number): number {
    for (let index = Math.floor(from / HOUR_MS); index <= Math.floor(to / HOUR_MS); index += 1) {
      const bucket = this.#buckets.get(index) ?? this.#fill(index);
      if (bucket.at > from && bucket.at <= to) return bucket.at;
    }
    return to;
  }

  #fill(index: number): OffsetBucket {
    if (this.#buckets.size >= MAX_BUCKETS_PER_ZONE) this.#buckets.clear();
    // Sampling from the last second of the previous hour catches a transition exactly on the hour.
    const startSecond = index * 3600 - 1;
    const endSecond = index * 3600 + 3599;
    const before = this.#rawOffset(startSecond);
    const after = this.#rawOffset(endSecond);
    let at = Number.POSITIVE_INFINITY;
    if (before !== after) {
      // Transitions fall on whole seconds: binary-search the first second showing the new offset.
      let lo = startSecond;
      let hi = endSecond;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (this.#rawOffset(mid) === before) lo = mid;
        else hi = mid;
      }
      at = hi * 1000;
    }
    const bucket: OffsetBucket = { before, after, at };
    this.#buckets.set(index, bucket);
    return bucket;
  }

  /** Offset at a whole second, read from Intl: the only place the tz database is consulted. */
  #rawOffset(second: number): number {
    const parts = this.#format.formatToParts(second * 1000);
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    let sec = 0;
    let beforeChrist = false;
    for (const part of parts) {
      switch (part.type) {
        case 'year':
          year = Number(part.value);
          break;
        case 'month':
          month = Number(part.value);
          break;
        case 'day':
          day = Number(part.value);
          break;
        case 'hour':
          hour = Number(part.value) % 24;
          break;
        case 'minute':
          minute = Number(part.value);
          break;
        case 'second':
          sec = Number(part.value);
          break;
        case 'era':
          beforeChrist = part.value.startsWith('B');
          break;
        default:
          break;
      }
    }
    if (beforeChrist) year = 1 - year;
    const wall = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + sec) * 1000;
    return wall - second * 1000;
  }
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; no Date.UTC year quirks). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** ISO weekday index of an epoch day: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday). */
export function weekdayOf(epochDay: number): number {
  return (((epochDay + 3) % 7) + 7) % 7;
}

const zonesByName = new Map<string, TimeZone>();
const zonesByInput = new Map<string, TimeZone>();

/**
 * The zone named `input` (an IANA name such as `Europe/London`, or `UTC`), case-insensitively, or
 * `undefined` when Intl does not know it. Numeric offsets (`+05:30`) are refused: a maintenance window
 * follows a place's clock, DST included. The returned `name` is the input with the zone's canonical
 * capitalisation when Intl reports it (aliases such as `Asia/Kolkata` keep the spelling given).
 */
export function findTimeZone(input: string): TimeZone | undefined {
  const known = zonesByInput.get(input);
  if (known) return known;
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(input)) return undefined;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: input,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return undefined;
  }
  const resolved = format.resolvedOptions().timeZone;
  const name = resolved.toLowerCase() === input.toLowerCase() ? resolved : input;
  let zone = zonesByName.get(name);
  if (!zone) {
    zone = new TimeZone(name, format);
    if (zonesByName.size >= MAX_CACHED_NAMES) zonesByName.clear();
    zonesByName.set(name, zone);
  }
  if (zonesByInput.size >= MAX_CACHED_NAMES) zonesByInput.clear();
  zonesByInput.set(input, zone);
  return zone;
}
