// The machinery behind `windowAt`: windows compiled for evaluation, and a day-by-day scan of openings.
import { CutoverError } from '../shared/index.ts';
import type { MaintenanceWindow } from './maintenance-window.ts';
import { DAY_MS } from '../shared/index.ts';
import { findTimeZone, weekdayOf } from './time-zone.ts';
import type { TimeZone } from './time-zone.ts';

/** Local days whose openings one rule keeps; a scheduler pass touches 2–3 per rule. */
const MAX_CACHED_DAYS = 256;
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** One rule's opening on one local day (`end <= start`: none), and the instant that day ends. */
interface DayOpening {
  readonly start: number;
  readonly end: number;
  readonly nextMidnight: number;
}

/**
 * A rule ready for evaluation. It memoises its openings per local day: the fleet scheduler asks
 * about the same few hundred windows for 100,000 instances at nearly the same `now`, so after the
 * first instance each question is a Map read instead of several wall→instant conversions.
 */
export class CompiledRule {
  readonly #mask: number;
  /** Offsets from local midnight of the start day, in ms; `#endMs > #startMs` (next day when crossing). */
  readonly #startMs: number;
  readonly #endMs: number;
  readonly zone: TimeZone;
  readonly #days = new Map<number, DayOpening>();

  constructor(mask: number, startMinutes: number, endMinutes: number, zone: TimeZone) {
    this.#mask = mask;
    this.#startMs = startMinutes * 60_000;
    this.#endMs = (endMinutes <= startMinutes ? endMinutes + 1440 : endMinutes) * 60_000;
    this.zone = zone;
  }

  /** The opening that starts on local `day` (epoch day in the rule's zone), if any. */
  day(day: number): DayOpening {
    const cached = this.#days.get(day);
    if (cached) return cached;
    const midnight = day * DAY_MS;
    let start = 0;
    let end = 0;
    if (this.#mask & (1 << weekdayOf(day))) {
      start = this.zone.instantOf(midnight + this.#startMs);
      // Both ends inside one DST gap give end === start: the opening does not exist that day.
      end = this.zone.instantOf(midnight + this.#endMs);
    }
    const entry: DayOpening = { start, end, nextMidnight: this.zone.instantOf(midnight + DAY_MS) };
    if (this.#days.size >= MAX_CACHED_DAYS) this.#days.clear();
    this.#days.set(day, entry);
    return entry;
  }
}

/** A window ready for evaluation. */
export type CompiledWindow =
  | { readonly kind: 'anytime' }
  | { readonly kind: 'never' }
  | { readonly kind: 'rules'; readonly rules: readonly CompiledRule[] };

const compiledWindows = new WeakMap<MaintenanceWindow, CompiledWindow>();

/** Windows are frozen data, so their compiled form is derived once per object and kept beside it. */
export function compileWindow(window: MaintenanceWindow): CompiledWindow {
  const cached = compiledWindows.get(window);
  if (cached) return cached;
  let compiled: CompiledWindow;
  if (window.kind !== 'rules') compiled = { kind: window.kind };
  else if (window.rules.length === 0) compiled = { kind: 'never' };
  else {
    const rules = window.rules.map((rule) => {
      const zone = findTimeZone(rule.zone);
      if (!zone) {
        throw new CutoverError(
          'VALIDATION_FAILED',
          `Maintenance window zone "${rule.zone}" is not an IANA time zone; build windows with parseWindow.`,
        );
      }
      let mask = 0;
      for (const day of rule.days) mask |= 1 << DAY_NAMES.indexOf(day);
      return new CompiledRule(mask, rule.start, rule.end, zone);
    });
    compiled = { kind: 'rules', rules };
  }
  compiledWindows.set(window, compiled);
  return compiled;
}

/** An interval `[start, end)` in ms since epoch. */
export interface Interval {
  start: number;
  end: number;
}

/**
 * The openings of a set of rules around `now`, generated one local day at a time per rule (each
 * rule counts days in its own zone). `lo`..`hi` are the generated days relative to each rule's local
 * today. Everything outside is bounded: an opening not generated either ends at or before
 * {@link lowerBound} or starts at or after {@link upperBound}.
 */
export class OpeningScan {
  lo = 0;
  hi = -1;
  readonly #openings: Interval[] = [];
  readonly #rules: readonly CompiledRule[];
  readonly #today: number[] = [];

  constructor(rules: readonly CompiledRule[], now: number) {
    this.#rules = rules;
    for (const rule of rules) this.#today.push(Math.floor(rule.zone.wallAt(now) / DAY_MS));
    // Openings last under a day of wall time, so one that started before yesterday ended before today.
    this.lo = -1;
    this.#add(-1);
    this.extendAhead();
  }

  extendAhead(): void {
    this.hi += 1;
    this.#add(this.hi);
  }

  extendBehind(): void {
    this.lo -= 1;
    this.#add(this.lo);
  }

  /** Openings starting before local day `lo` cross at most one midnight, so they end by the end of `lo`. */
  lowerBound(): number {
    let bound = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.#rules.length; i += 1) {
      bound = Math.max(bound, this.#dayOf(i, this.lo).nextMidnight);
    }
    return bound;
  }

  /** Openings starting after local day `hi` start at or after the end of `hi`. */
  upperBound(): number {
    let bound = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#rules.length; i += 1) {
      bound = Math.min(bound, this.#dayOf(i, this.hi).nextMidnight);
    }
    return bound;
  }

  /**
   * The first merged opening that ends after `now`, among those generated so far. Openings that
   * overlap or touch merge, so the result's edges are instants where the window really changes.
   */
  locate(now: number): Interval | undefined {
    const openings = this.#openings;
    // Insertion sort: a handful of openings, mostly in order already.
    for (let i = 1; i < openings.length; i += 1) {
      const item = openings[i] as Interval;
      let j = i - 1;
      while (j >= 0 && (openings[j] as Interval).start > item.start) {
        openings[j + 1] = openings[j] as Interval;
        j -= 1;
      }
      openings[j + 1] = item;
    }
    let current: Interval | undefined;
    for (const opening of openings) {
      if (current && opening.start <= current.end) {
        if (opening.end > current.end) current.end = opening.end;
        continue;
      }
      if (current && current.end > now) return current;
      current = { start: opening.start, end: opening.end };
    }
    return current && current.end > now ? current : undefined;
  }

  #dayOf(rule: number, offset: number): DayOpening {
    return (this.#rules[rule] as CompiledRule).day((this.#today[rule] as number) + offset);
  }

  #add(offset: number): void {
    for (let i = 0; i < this.#rules.length; i += 1) {
      const opening = this.#dayOf(i, offset);
      if (opening.end > opening.start) this.#openings.push(opening);
    }
  }
}
