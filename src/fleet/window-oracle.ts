// Test support only (imported by *.test.ts, never by the entry file): a slow, independent model of
// maintenance windows built on luxon, to check the fast Intl-based implementation against.
import { DateTime } from 'luxon';
import { DAY_MS } from '../shared/index.ts';
import type { MaintenanceWindow } from './maintenance-window.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Zones with DST both ways, half- and 45-minute offsets, midnight transitions, and skipped days. */
export const ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Berlin',
  'America/New_York',
  'America/St_Johns',
  'America/Sao_Paulo',
  'America/Havana',
  'America/Santiago',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Tokyo',
  'Asia/Tehran',
  'Pacific/Chatham',
  'Pacific/Apia',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
  'Africa/Casablanca',
] as const;

/** The UTC offset in ms at an instant, as luxon reports it. */
export function luxonOffset(zone: string, instant: number): number {
  return DateTime.fromMillis(instant, { zone }).offset * MINUTE_MS;
}

/**
 * The first instant whose wall time is at or after `wall` (a whole minute): that is the first
 * occurrence of a repeated time, and the end of the gap for a skipped one. Brute force by the minute,
 * over the offsets seen a day either side (plus two hours of margin).
 */
export function oracleInstantOf(zone: string, wall: number): number {
  const a = luxonOffset(zone, wall - DAY_MS);
  const b = luxonOffset(zone, wall + DAY_MS);
  const from = wall - Math.max(a, b) - 2 * HOUR_MS;
  const to = wall - Math.min(a, b) + 2 * HOUR_MS;
  for (let t = from; t <= to; t += MINUTE_MS) {
    if (t + luxonOffset(zone, t) >= wall) return t;
  }
  throw new Error(`oracle found no instant for ${zone} ${wall}`);
}

/** Whether the window is open at `instant`, straight from the definition, rule by rule. */
export function oracleIsOpen(window: MaintenanceWindow, instant: number): boolean {
  if (window.kind === 'anytime') return true;
  if (window.kind === 'never') return false;
  return window.rules.some((rule) => {
    const local = DateTime.fromMillis(instant, { zone: rule.zone });
    const today = Math.floor(Date.UTC(local.year, local.month - 1, local.day) / DAY_MS);
    // An opening lasts under a day of wall time, so only yesterday's or today's can contain `instant`.
    return [today - 1, today].some((day) => {
      const weekday = WEEKDAY_NAMES[(((day + 3) % 7) + 7) % 7] ?? '';
      if (!(rule.days as readonly string[]).includes(weekday)) return false;
      const endDay = rule.end <= rule.start ? day + 1 : day;
      const start = oracleInstantOf(rule.zone, day * DAY_MS + rule.start * MINUTE_MS);
      const end = oracleInstantOf(rule.zone, endDay * DAY_MS + rule.end * MINUTE_MS);
      return start <= instant && instant < end;
    });
  });
}
