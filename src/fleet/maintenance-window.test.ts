import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { formatWindow, nextOpening, parseWindow, windowAt } from './index.ts';

const at = (iso: string): number => Date.parse(iso);
const HOUR = 3_600_000;

/** The opening containing or following `from`, as ISO strings for readable failures. */
function opening(text: string, from: string): [string, string] | undefined {
  const found = nextOpening(parseWindow(text), at(from));
  return found && [new Date(found.start).toISOString(), new Date(found.end).toISOString()];
}

function assertInvalid(text: string, ...expected: RegExp[]): void {
  assert.throws(
    () => parseWindow(text),
    (error: unknown) => {
      assert.ok(isCutoverError(error), 'a CutoverError');
      assert.equal(error.code, 'VALIDATION_FAILED');
      for (const pattern of expected) assert.match(error.message, pattern);
      assert.match(error.message, /Example of a valid window: "/);
      return true;
    },
    text,
  );
}

test('parseWindow reads every form into plain data', () => {
  assert.deepEqual(parseWindow('anytime'), { kind: 'anytime' });
  assert.deepEqual(parseWindow(' Never '), { kind: 'never' });
  assert.deepEqual(parseWindow('mon,wed,fri 03:00-05:00 Asia/Tokyo'), {
    kind: 'rules',
    rules: [{ days: ['mon', 'wed', 'fri'], start: 180, end: 300, zone: 'Asia/Tokyo' }],
  });
  assert.deepEqual(parseWindow('weekdays 22:00-02:00 America/New_York'), {
    kind: 'rules',
    rules: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: 1320, end: 120, zone: 'America/New_York' }],
  });
  assert.ok(Object.isFrozen(parseWindow('daily 01:00-04:00 UTC')));
});

test('formatWindow gives canonical text, and parse∘format is stable', () => {
  const cases: [string, string][] = [
    ['ANYTIME', 'anytime'],
    ['never', 'never'],
    ['daily 1:00-4:00 utc', 'daily 01:00-04:00 UTC'],
    ['mon,tue,wed,thu,fri 22:00-02:00 America/New_York', 'weekdays 22:00-02:00 America/New_York'],
    ['weekends 00:00-06:00 UTC', 'weekends 00:00-06:00 UTC'],
    ['sat-sun 23:30-01:00 Australia/Sydney', 'weekends 23:30-01:00 Australia/Sydney'],
    ['fri-mon 01:00-02:00 UTC', 'mon,fri-sun 01:00-02:00 UTC'],
    ['Monday, Wednesday 03:00 - 05:00 europe/london', 'mon,wed 03:00-05:00 Europe/London'],
    ['mon-thu,sun 03:00-05:00 Asia/Kolkata', 'mon-thu,sun 03:00-05:00 Asia/Kolkata'],
    ['sun-sat 03:00-05:00 UTC', 'daily 03:00-05:00 UTC'],
    [
      'daily 02:00-03:00 Europe/Berlin;sun 10:00-14:00 Europe/Berlin',
      'daily 02:00-03:00 Europe/Berlin; sun 10:00-14:00 Europe/Berlin',
    ],
  ];
  for (const [input, canonical] of cases) {
    const parsed = parseWindow(input);
    assert.equal(formatWindow(parsed), canonical, input);
    assert.deepEqual(parseWindow(formatWindow(parsed)), parsed, input);
  }
});

test('parseWindow names the bad part and shows a valid example', () => {
  assertInvalid('daily 01:00-04:00 Mars/Olympus', /unknown time zone "Mars\/Olympus"/, /IANA/);
  assertInvalid('daily 01:00-04:00 +05:30', /unknown time zone "\+05:30"/);
  assertInvalid('daily 25:00-04:00 UTC', /"25:00" is not a time of day/, /00:00 and 23:59/);
  assertInvalid('daily 01:60-04:00 UTC', /"01:60" is not a time of day/);
  assertInvalid('daily 1am-4am UTC', /"1am" is not a time of day/);
  assertInvalid('daily 03:00-03:00 UTC', /opens and closes at the same time \(03:00-03:00\)/, /"anytime"/);
  assertInvalid('funday 01:00-02:00 UTC', /unknown day "funday"/, /mon,wed,fri/);
  assertInvalid('mon,fry 01:00-02:00 UTC', /unknown day "fry"/);
  assertInvalid('mon-fri-sat 01:00-02:00 UTC', /unknown day "mon-fri-sat"/);
  assertInvalid('daily 01:00-04:00', /has no time zone/, /Europe\/London/);
  assertInvalid('01:00-04:00 UTC', /does not say on which days/);
  assertInvalid('daily 01:00-04:00 Europe/London extra', /"Europe\/London extra" is not one time zone/);
  assertInvalid('', /it is empty/);
  assertInvalid('daily UTC', /has no time range/);
  assertInvalid('anytime; daily 01:00-02:00 UTC', /"anytime" cannot be combined/);
  assertInvalid('daily 01:00-02:00 UTC;', /rule 2 is empty/);
  try {
    parseWindow('daily 01:00-04:00 Mars/Olympus');
  } catch (error) {
    assert.ok(isCutoverError(error));
    assert.deepEqual(error.details, { window: 'daily 01:00-04:00 Mars/Olympus', part: 'Mars/Olympus' });
  }
});

test('anytime and never', () => {
  assert.deepEqual(windowAt(parseWindow('anytime'), at('2026-01-01T00:00Z')), { open: true });
  assert.deepEqual(windowAt(parseWindow('never'), at('2026-01-01T00:00Z')), { open: false });
  assert.deepEqual(nextOpening(parseWindow('anytime'), 0), { start: -Infinity, end: Infinity });
  assert.equal(nextOpening(parseWindow('never'), 0), undefined);
});

test('open and closed states carry the next edge', () => {
  const w = parseWindow('daily 01:00-04:00 UTC');
  assert.deepEqual(windowAt(w, at('2026-06-01T00:59:59.999Z')), {
    open: false,
    opensAt: at('2026-06-01T01:00Z'),
  });
  assert.deepEqual(windowAt(w, at('2026-06-01T01:00Z')), { open: true, closesAt: at('2026-06-01T04:00Z') });
  assert.deepEqual(windowAt(w, at('2026-06-01T03:59:59.999Z')), {
    open: true,
    closesAt: at('2026-06-01T04:00Z'),
  });
  assert.deepEqual(windowAt(w, at('2026-06-01T04:00Z')), { open: false, opensAt: at('2026-06-02T01:00Z') });
  assert.throws(() => windowAt(w, Number.NaN), /not a number of ms/);
});

test('Europe/London spring forward (2026-03-29 01:00 UTC): gap start opens at 02:00 BST; 01:00-04:00 lasts 2 h', () => {
  assert.deepEqual(opening('daily 01:00-04:00 Europe/London', '2026-03-28T12:00Z'), [
    '2026-03-29T01:00:00.000Z',
    '2026-03-29T03:00:00.000Z',
  ]);
  assert.deepEqual(opening('daily 01:30-04:00 Europe/London', '2026-03-28T12:00Z'), [
    '2026-03-29T01:00:00.000Z',
    '2026-03-29T03:00:00.000Z',
  ]);
  // Both ends inside the gap: no opening that night; the next is the following night (in BST).
  assert.deepEqual(opening('daily 01:15-01:45 Europe/London', '2026-03-28T12:00Z'), [
    '2026-03-30T00:15:00.000Z',
    '2026-03-30T00:45:00.000Z',
  ]);
  const w = parseWindow('daily 01:30-04:00 Europe/London');
  assert.equal(windowAt(w, at('2026-03-29T01:00Z') - 1).open, false);
  assert.equal(windowAt(w, at('2026-03-29T01:00Z')).open, true);
});

test('Europe/London fall back (2026-10-25 01:00 UTC): repeated times use the first occurrence; 01:00-04:00 lasts 4 h', () => {
  assert.deepEqual(opening('daily 01:00-04:00 Europe/London', '2026-10-24T12:00Z'), [
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T04:00:00.000Z',
  ]);
  assert.deepEqual(opening('daily 01:30-05:00 Europe/London', '2026-10-24T12:00Z'), [
    '2026-10-25T00:30:00.000Z',
    '2026-10-25T05:00:00.000Z',
  ]);
  // A repeated end time closes at its first occurrence too: 00:00 BST to 01:30 BST.
  assert.deepEqual(opening('daily 00:00-01:30 Europe/London', '2026-10-24T12:00Z'), [
    '2026-10-24T23:00:00.000Z',
    '2026-10-25T00:30:00.000Z',
  ]);
  // Crossing midnight over the fall-back night: 23:00 BST to 03:00 GMT is 5 h.
  assert.deepEqual(opening('sat 23:00-03:00 Europe/London', '2026-10-24T12:00Z'), [
    '2026-10-24T22:00:00.000Z',
    '2026-10-25T03:00:00.000Z',
  ]);
});

test('America/New_York spring forward (2026-03-08) and fall back (2026-11-01)', () => {
  assert.deepEqual(opening('daily 02:30-04:00 America/New_York', '2026-03-07T12:00Z'), [
    '2026-03-08T07:00:00.000Z',
    '2026-03-08T08:00:00.000Z',
  ]);
  // Crossing midnight across the spring-forward night: 22:00 EST to 06:00 EDT is 7 h.
  const spring = opening('sat 22:00-06:00 America/New_York', '2026-03-07T12:00Z');
  assert.deepEqual(spring, ['2026-03-08T03:00:00.000Z', '2026-03-08T10:00:00.000Z']);
  assert.deepEqual(opening('daily 01:00-03:00 America/New_York', '2026-10-31T12:00Z'), [
    '2026-11-01T05:00:00.000Z',
    '2026-11-01T08:00:00.000Z',
  ]);
  // Crossing midnight across the fall-back night: 23:00 EDT to 05:00 EST is 7 h.
  const fall = nextOpening(parseWindow('sat 23:00-05:00 America/New_York'), at('2026-10-31T12:00Z'));
  assert.deepEqual(fall, { start: at('2026-11-01T03:00Z'), end: at('2026-11-01T10:00Z') });
  assert.equal((fall?.end ?? 0) - (fall?.start ?? 0), 7 * HOUR);
});

test('weekday rules crossing midnight run Friday night into Saturday, never Saturday night', () => {
  const w = parseWindow('weekdays 22:00-02:00 America/New_York');
  // Friday 2026-03-06 22:00 EST = 2026-03-07T03:00Z, until Saturday 02:00 EST.
  assert.deepEqual(windowAt(w, at('2026-03-07T02:59Z')), { open: false, opensAt: at('2026-03-07T03:00Z') });
  assert.deepEqual(windowAt(w, at('2026-03-07T06:00Z')), { open: true, closesAt: at('2026-03-07T07:00Z') });
  // Saturday and Sunday nights stay closed; Monday 22:00 is in EDT after the 03-08 change.
  assert.deepEqual(windowAt(w, at('2026-03-07T07:00Z')), { open: false, opensAt: at('2026-03-10T02:00Z') });
  assert.equal(windowAt(w, at('2026-03-08T04:00Z')).open, false);
  assert.equal(windowAt(w, at('2026-03-09T04:00Z')).open, false);
});

test('southern hemisphere: Australia/Sydney, DST ends 2026-04-05 and starts 2026-10-04', () => {
  // Saturday 23:30 AEDT (+11) to Sunday 01:00.
  assert.deepEqual(opening('sat-sun 23:30-01:00 Australia/Sydney', '2026-04-01T00:00Z'), [
    '2026-04-04T12:30:00.000Z',
    '2026-04-04T14:00:00.000Z',
  ]);
  // 02:00 happens twice on 04-05: open at 02:00 AEDT, close at 04:00 AEST: 3 h.
  assert.deepEqual(opening('daily 02:00-04:00 Australia/Sydney', '2026-04-04T12:00Z'), [
    '2026-04-04T15:00:00.000Z',
    '2026-04-04T18:00:00.000Z',
  ]);
  // 02:00 does not exist on 10-04: open at 03:00 AEDT, close at 04:00 AEDT: 1 h.
  assert.deepEqual(opening('daily 02:00-04:00 Australia/Sydney', '2026-10-03T12:00Z'), [
    '2026-10-03T16:00:00.000Z',
    '2026-10-03T17:00:00.000Z',
  ]);
});

test('half-hour and 45-minute zones: Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45)', () => {
  assert.deepEqual(opening('daily 01:00-03:00 Asia/Kolkata', '2026-06-01T00:00Z'), [
    '2026-06-01T19:30:00.000Z',
    '2026-06-01T21:30:00.000Z',
  ]);
  const kathmandu = parseWindow('mon 00:00-00:30 Asia/Kathmandu');
  // Monday 2026-06-01 starts at 2026-05-31T18:15Z in Kathmandu.
  assert.deepEqual(windowAt(kathmandu, at('2026-05-31T18:15Z') - 1), {
    open: false,
    opensAt: at('2026-05-31T18:15Z'),
  });
  assert.deepEqual(windowAt(kathmandu, at('2026-05-31T18:15Z')), {
    open: true,
    closesAt: at('2026-05-31T18:45Z'),
  });
  assert.deepEqual(windowAt(kathmandu, at('2026-05-31T18:45Z')), {
    open: false,
    opensAt: at('2026-06-07T18:15Z'),
  });
});

test('unions: overlapping and touching rules merge, zones can differ', () => {
  const berlin = parseWindow('daily 02:00-03:00 Europe/Berlin; sun 10:00-14:00 Europe/Berlin');
  // Sunday 2026-06-07, CEST (+2): 02:00-03:00 and 10:00-14:00 local.
  assert.deepEqual(windowAt(berlin, at('2026-06-07T01:00Z')), {
    open: false,
    opensAt: at('2026-06-07T08:00Z'),
  });
  assert.deepEqual(windowAt(berlin, at('2026-06-07T09:00Z')), {
    open: true,
    closesAt: at('2026-06-07T12:00Z'),
  });
  assert.deepEqual(windowAt(berlin, at('2026-06-08T01:00Z')), {
    open: false,
    opensAt: at('2026-06-09T00:00Z'),
  });
  const overlapping = parseWindow('daily 01:00-03:00 UTC; daily 02:00-05:00 UTC');
  assert.deepEqual(windowAt(overlapping, at('2026-06-01T01:30Z')), {
    open: true,
    closesAt: at('2026-06-01T05:00Z'),
  });
  const touching = parseWindow('daily 01:00-02:00 UTC; daily 02:00-03:00 UTC');
  assert.deepEqual(windowAt(touching, at('2026-06-01T01:30Z')), {
    open: true,
    closesAt: at('2026-06-01T03:00Z'),
  });
  assert.deepEqual(windowAt(touching, at('2026-06-01T00:00Z')), {
    open: false,
    opensAt: at('2026-06-01T01:00Z'),
  });
  // Tokyo 01:00 (+9) is 16:00Z; New York 01:00 EDT is 05:00Z.
  const twoZones = parseWindow('daily 01:00-02:00 Asia/Tokyo; daily 01:00-02:00 America/New_York');
  assert.deepEqual(windowAt(twoZones, at('2026-06-01T06:00Z')), {
    open: false,
    opensAt: at('2026-06-01T16:00Z'),
  });
  assert.deepEqual(windowAt(twoZones, at('2026-06-01T17:00Z')), {
    open: false,
    opensAt: at('2026-06-02T05:00Z'),
  });
  // Rules that together cover all time never close within the horizon.
  const always = parseWindow('daily 00:00-12:00 UTC; daily 12:00-00:00 UTC');
  assert.deepEqual(windowAt(always, at('2026-06-01T06:00Z')), { open: true });
  assert.deepEqual(nextOpening(always, at('2026-06-01T06:00Z')), { start: -Infinity, end: Infinity });
});

test('nextOpening reports the whole opening containing now, including its past start', () => {
  const w = parseWindow('fri 22:00-02:00 UTC; sat 01:00-03:00 UTC');
  // Friday 2026-06-05 22:00 to Saturday 03:00, merged.
  assert.deepEqual(nextOpening(w, at('2026-06-06T02:30Z')), {
    start: at('2026-06-05T22:00Z'),
    end: at('2026-06-06T03:00Z'),
  });
  assert.deepEqual(nextOpening(w, at('2026-06-06T03:00Z')), {
    start: at('2026-06-12T22:00Z'),
    end: at('2026-06-13T03:00Z'),
  });
});

test('a weekly opening swallowed by a DST gap is found the week after', () => {
  const w = parseWindow('sun 01:15-01:45 Europe/London');
  // 2026-03-29 has no 01:15-01:45; from Monday 03-23 the next opening is Sunday 04-05 (BST).
  assert.deepEqual(windowAt(w, at('2026-03-23T00:00Z')), { open: false, opensAt: at('2026-04-05T00:15Z') });
});
