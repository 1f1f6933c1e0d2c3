import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { DAY_MS } from '../shared/index.ts';
import { daysFromCivil, findTimeZone, weekdayOf } from './time-zone.ts';
import type { TimeZone } from './time-zone.ts';
import { ZONES, luxonOffset, oracleInstantOf } from './window-oracle.ts';

function zone(name: string): TimeZone {
  const found = findTimeZone(name);
  assert.ok(found, name);
  return found;
}

test('findTimeZone accepts IANA names case-insensitively and refuses the rest', () => {
  assert.equal(zone('europe/london').name, 'Europe/London');
  assert.equal(zone('utc').name, 'UTC');
  // Intl canonicalises Kolkata to Calcutta; we keep the spelling the operator wrote.
  assert.equal(zone('Asia/Kolkata').name, 'Asia/Kolkata');
  for (const bad of ['Mars/Olympus', '+05:30', '-03:00', '', 'Europe/London extra', 'Z']) {
    assert.equal(findTimeZone(bad), undefined, bad);
  }
});

test('daysFromCivil and weekdayOf agree with Date', () => {
  fc.assert(
    fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), (epochDay) => {
      const date = new Date(epochDay * DAY_MS);
      assert.equal(daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()), epochDay);
      assert.equal(weekdayOf(epochDay), (date.getUTCDay() + 6) % 7);
    }),
  );
});

test('offsetAt matches luxon for random zones and instants (1971-2100)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ZONES),
      fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) }),
      (name, instant) => {
        assert.equal(zone(name).offsetAt(instant), luxonOffset(name, instant));
      },
    ),
    { numRuns: 2000 },
  );
});

test('offsetAt is exact at transitions, to the millisecond', () => {
  const london = zone('Europe/London');
  const spring = Date.UTC(2026, 2, 29, 1);
  assert.equal(london.offsetAt(spring - 1), 0);
  assert.equal(london.offsetAt(spring), 3_600_000);
  const fall = Date.UTC(2026, 9, 25, 1);
  assert.equal(london.offsetAt(fall - 1), 3_600_000);
  assert.equal(london.offsetAt(fall), 0);
  // Lord Howe moves by 30 minutes at 02:00 local (+10:30): 2026-10-03T15:30Z.
  const lordHowe = zone('Australia/Lord_Howe');
  assert.equal(lordHowe.offsetAt(Date.UTC(2026, 9, 3, 15, 30) - 1), 10.5 * 3_600_000);
  assert.equal(lordHowe.offsetAt(Date.UTC(2026, 9, 3, 15, 30)), 11 * 3_600_000);
});

test('instantOf: gaps map to the transition, repeated times to their first occurrence', () => {
  const london = zone('Europe/London');
  const wall = (iso: string): number => Date.parse(`${iso}Z`);
  assert.equal(london.instantOf(wall('2026-03-29T00:59')), Date.parse('2026-03-29T00:59Z'));
  assert.equal(london.instantOf(wall('2026-03-29T01:00')), Date.parse('2026-03-29T01:00Z'));
  assert.equal(london.instantOf(wall('2026-03-29T01:30')), Date.parse('2026-03-29T01:00Z'));
  assert.equal(london.instantOf(wall('2026-03-29T02:00')), Date.parse('2026-03-29T01:00Z'));
  assert.equal(london.instantOf(wall('2026-03-29T02:01')), Date.parse('2026-03-29T01:01Z'));
  assert.equal(london.instantOf(wall('2026-10-25T01:00')), Date.parse('2026-10-25T00:00Z'));
  assert.equal(london.instantOf(wall('2026-10-25T01:59')), Date.parse('2026-10-25T00:59Z'));
  assert.equal(london.instantOf(wall('2026-10-25T02:00')), Date.parse('2026-10-25T02:00Z'));
  // Samoa skipped 2011-12-30 entirely: the whole day maps to the transition.
  const apia = zone('Pacific/Apia');
  assert.equal(apia.instantOf(wall('2011-12-30T12:00')), Date.parse('2011-12-30T10:00Z'));
});

test('instantOf matches a brute-force luxon oracle', () => {
  const transitions = [
    '2026-03-29T01:00Z',
    '2026-10-25T01:00Z',
    '2026-03-08T07:00Z',
    '2026-11-01T06:00Z',
    '2026-04-04T16:00Z',
    '2026-10-03T16:00Z',
    '2018-11-04T03:00Z',
    '2026-03-08T05:00Z',
  ].map(Date.parse);
  const near = fc
    .tuple(fc.constantFrom(...transitions), fc.integer({ min: -30 * 60, max: 30 * 60 }))
    .map(([t, minutes]) => Math.floor(t / 60_000) * 60_000 + minutes * 60_000);
  const anywhere = fc
    .integer({ min: Date.UTC(1990, 0, 1) / 60_000, max: Date.UTC(2040, 0, 1) / 60_000 })
    .map((m) => m * 60_000);
  fc.assert(
    fc.property(
      fc.constantFrom(...ZONES),
      fc.oneof(near, anywhere),
      fc.constantFrom(-DAY_MS, 0, DAY_MS),
      (name, instant, shift) => {
        // Reading the instant with the offset of a day before or after lands in gaps and repeats.
        const wall = instant + luxonOffset(name, instant + shift);
        assert.equal(
          zone(name).instantOf(wall),
          oracleInstantOf(name, wall),
          `${name} ${DateTime.fromMillis(wall, { zone: 'UTC' }).toISO()}`,
        );
      },
    ),
    { numRuns: 300 },
  );
});
