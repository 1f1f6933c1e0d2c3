// Evaluating a maintenance window at an instant. Pure: `now` is always a parameter.
import { CutoverError } from '../shared/index.ts';
import type { MaintenanceWindow } from './maintenance-window.ts';
import { OpeningScan, compileWindow } from './opening-scan.ts';
import type { CompiledRule } from './opening-scan.ts';

/**
 * Whether a window is open at an instant. When open, `closesAt` is when it closes (absent when it
 * never closes within the search horizon, e.g. `anytime`). When closed, `opensAt` is when it next
 * opens (absent for `never`, or when nothing opens within the horizon). Instants are ms since epoch.
 */
export interface WindowState {
  open: boolean;
  opensAt?: number;
  closesAt?: number;
}

/**
 * One opening, `start` inclusive, `end` exclusive (ms since epoch). Overlapping or touching openings
 * of a union are merged into one. A side not bounded within the search horizon is ±Infinity
 * (`anytime` is `{ start: -Infinity, end: Infinity }`).
 */
export interface Opening {
  start: number;
  end: number;
}

/**
 * How many local days past today are searched. A weekly rule opens every
 * 7 days, but a DST gap can swallow one opening whole (`sun 01:15-01:45 Europe/London` on the
 * spring-forward Sunday), and then the next one is 14 days away; 2 more days absorb the offset
 * differences between the zones of a union. The search stops as soon as the answer is certain, so
 * the horizon costs nothing for ordinary windows.
 */
const AHEAD_DAYS = 16;
/** Extra days allowed to find the end of an opening that starts on the last searched day. */
const END_SLACK_DAYS = 2;

interface Found {
  open: boolean;
  start: number | undefined;
  end: number | undefined;
}

/** Searches forward (and backward when `bounds`) until the answer is certain or the horizon is hit. */
function search(rules: readonly CompiledRule[], now: number, bounds: boolean): Found {
  const scan = new OpeningScan(rules, now);
  for (;;) {
    const found = scan.locate(now);
    const upper = scan.upperBound();
    if (found) {
      const open = found.start <= now;
      const startKnown = open || found.start < upper;
      const endKnown = found.end < upper;
      if (open && endKnown && !bounds) return { open, start: undefined, end: found.end };
      if (open && endKnown) return { open, start: startOf(scan, now), end: found.end };
      if (!open && startKnown && (endKnown || !bounds))
        return { open, start: found.start, end: endKnown ? found.end : undefined };
      const limit = !open && startKnown ? AHEAD_DAYS + END_SLACK_DAYS : AHEAD_DAYS;
      if (scan.hi >= limit) {
        if (open) return { open, start: bounds ? startOf(scan, now) : undefined, end: undefined };
        return { open, start: startKnown ? found.start : undefined, end: undefined };
      }
    } else if (scan.hi >= AHEAD_DAYS) {
      return { open: false, start: undefined, end: undefined };
    }
    scan.extendAhead();
  }
}

/** The start of the merged opening containing `now`, extending the scan backward as needed. */
function startOf(scan: OpeningScan, now: number): number | undefined {
  for (;;) {
    const found = scan.locate(now);
    if (found && found.start > scan.lowerBound()) return found.start;
    if (scan.lo <= -AHEAD_DAYS) return undefined;
    scan.extendBehind();
  }
}

/**
 * Whether `window` is open at `now` (ms since epoch), and when that changes.
 *
 * Semantics: rule times are wall-clock times in the rule's zone, and a rule's days name the day an
 * opening STARTS (`fri 22:00-02:00` runs Friday night into Saturday morning). Around DST changes:
 * - a start (or end) wall time that does not exist (spring forward, e.g. 01:30 in Europe/London on
 *   2026-03-29) is taken as the first instant after the gap, the transition itself (02:00 BST);
 * - a wall time that occurs twice (fall back) is taken at its FIRST occurrence, for the end as well
 *   as the start, so the window never runs while the clock shows a time past its end;
 * - the end is the wall-clock end, so `01:00-04:00` lasts 2 h on the spring-forward night and 4 h on
 *   the fall-back night in Europe/London; an opening whose both ends fall in one gap does not exist.
 * Openings are `[start, end)`; openings of a union that overlap or touch count as one, so `opensAt`
 * and `closesAt` are real edges. The search reaches 16 local days ahead.
 */
export function windowAt(window: MaintenanceWindow, now: number): WindowState {
  assertInstant(now);
  const compiled = compileWindow(window);
  if (compiled.kind === 'anytime') return { open: true };
  if (compiled.kind === 'never') return { open: false };
  const found = search(compiled.rules, now, false);
  if (found.open) return found.end === undefined ? { open: true } : { open: true, closesAt: found.end };
  return found.start === undefined ? { open: false } : { open: false, opensAt: found.start };
}

/**
 * The opening containing `now`, or else the next one; `undefined` when none starts within the
 * search horizon (always for `never`). Same semantics as {@link windowAt}; a side that is not
 * bounded within the horizon (16 days either way) is ±Infinity.
 */
export function nextOpening(window: MaintenanceWindow, now: number): Opening | undefined {
  assertInstant(now);
  const compiled = compileWindow(window);
  if (compiled.kind === 'anytime') return { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY };
  if (compiled.kind === 'never') return undefined;
  const found = search(compiled.rules, now, true);
  if (!found.open && found.start === undefined) return undefined;
  return { start: found.start ?? Number.NEGATIVE_INFINITY, end: found.end ?? Number.POSITIVE_INFINITY };
}

function assertInstant(now: number): void {
  if (!Number.isFinite(now)) {
    throw new CutoverError(
      'VALIDATION_FAILED',
      `Instant ${String(now)} is not a number of ms since the epoch; pass a finite timestamp such as Date.now().`,
    );
  }
}
