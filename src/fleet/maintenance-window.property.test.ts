import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WEEKDAYS, formatWindow, nextOpening, parseWindow, windowAt } from './index.ts';
import { ZONES, oracleIsOpen } from './window-oracle.ts';

const DAY = 86_400_000;

/** Times biased towards the hours where DST changes happen, and towards midnight. */
const minuteOfDay = fc.oneof(
  fc.integer({ min: 0, max: 1439 }),
  fc.constantFrom(0, 30, 60, 90, 120, 135, 150, 180, 1380, 1410),
);

const ruleText = fc
  .record({
    days: fc.subarray([...WEEKDAYS], { minLength: 1 }),
    start: minuteOfDay,
    end: minuteOfDay,
    zone: fc.constantFrom(...ZONES),
  })
  .filter((r) => r.start !== r.end)
  .map((r) => `${r.days.join(',')} ${hhmm(r.start)}-${hhmm(r.end)} ${r.zone}`);

const windowText = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.array(ruleText, { minLength: 1, maxLength: 3 }).map((rules) => rules.join('; ')),
  },
  { weight: 1, arbitrary: fc.constantFrom('anytime', 'never') },
);

/** Instants at or near 2026's DST transitions in the zones above, so samples cluster where rules are subtle. */
const TRANSITIONS = [
  '2026-03-29T01:00Z',
  '2026-10-25T01:00Z',
  '2026-03-08T07:00Z',
  '2026-11-01T06:00Z',
  '2026-03-08T05:00Z',
  '2026-04-04T16:00Z',
  '2026-10-03T16:00Z',
  '2026-04-04T15:00Z',
  '2026-10-03T15:30Z',
  '2026-04-05T02:45Z',
  '2026-09-27T14:00Z',
  '2026-04-05T03:00Z',
  '2026-09-06T04:00Z',
  '2026-02-15T02:00Z',
  '2026-03-22T02:00Z',
].map(Date.parse);

const instant = fc.oneof(
  fc.integer({ min: Date.UTC(1995, 0, 1), max: Date.UTC(2040, 0, 1) }),
  fc
    .tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -3 * DAY, max: 3 * DAY }))
    .map(([t, d]) => t + d),
  fc
    .tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -120, max: 120 }))
    .map(([t, m]) => t + m * 60_000),
);

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

test('parse∘format is stable for random windows', () => {
  fc.assert(
    fc.property(windowText, (text) => {
      const parsed = parseWindow(text);
      const canonical = formatWindow(parsed);
      assert.deepEqual(parseWindow(canonical), parsed);
      assert.equal(formatWindow(parseWindow(canonical)), canonical);
    }),
    { numRuns: 500 },
  );
});

test('windowAt edges are real: open → closesAt ahead; closed → opensAt ahead and nothing open before it', () => {
  fc.assert(
    fc.property(
      windowText,
      instant,
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 3, maxLength: 3 }),
      (text, now, fractions) => {
        const w = parseWindow(text);
        const state = windowAt(w, now);
        if (state.open) {
          // (a) open: no opensAt, and it closes strictly later (or never, within the horizon).
          assert.equal(state.opensAt, undefined);
          if (state.closesAt === undefined) {
            assert.equal(nextOpening(w, now)?.end, Infinity, 'only windows that stay open lack closesAt');
            return;
          }
          assert.ok(state.closesAt > now);
          assert.equal(windowAt(w, state.closesAt).open, false, 'closed at closesAt');
          assert.equal(windowAt(w, state.closesAt - 1).open, true, 'open just before closesAt');
          for (const f of fractions)
            assert.equal(windowAt(w, now + Math.floor(f * (state.closesAt - now))).open, true);
          return;
        }
        assert.equal(state.closesAt, undefined);
        if (w.kind === 'never') return assert.equal(state.opensAt, undefined);
        // (b) closed: every generated rule opens at least once in 14 days, so opensAt is there.
        assert.ok(state.opensAt !== undefined, `opensAt for ${text}`);
        assert.ok(state.opensAt > now);
        assert.equal(windowAt(w, state.opensAt).open, true, 'open at opensAt');
        // Touching or overlapping openings of a union are merged, so opensAt - 1 is always closed.
        assert.equal(windowAt(w, state.opensAt - 1).open, false, 'closed just before opensAt');
        // (c) nothing strictly between now and opensAt is open.
        for (const f of fractions)
          assert.equal(windowAt(w, now + Math.floor(f * (state.opensAt - now))).open, false);
      },
    ),
    { numRuns: 400 },
  );
});

test('windowAt agrees with a brute-force luxon model of the definition', () => {
  fc.assert(
    fc.property(windowText, instant, (text, now) => {
      const w = parseWindow(text);
      assert.equal(windowAt(w, now).open, oracleIsOpen(w, now), `${text} at ${new Date(now).toISOString()}`);
    }),
    { numRuns: 300 },
  );
});

test('nextOpening agrees with windowAt', () => {
  fc.assert(
    fc.property(windowText, instant, (text, now) => {
      const w = parseWindow(text);
      const state = windowAt(w, now);
      const found = nextOpening(w, now);
      if (w.kind === 'never') return assert.equal(found, undefined);
      assert.ok(found);
      assert.ok(found.start < found.end);
      if (state.open) {
        assert.ok(found.start <= now && now < found.end);
        assert.equal(found.end, state.closesAt ?? Infinity);
        if (Number.isFinite(found.start)) {
          assert.equal(windowAt(w, found.start).open, true);
          assert.equal(windowAt(w, found.start - 1).open, false);
        }
      } else {
        assert.equal(found.start, state.opensAt);
        assert.ok(Number.isFinite(found.end));
        assert.equal(windowAt(w, found.end - 1).open, true);
        assert.equal(windowAt(w, found.end).open, false);
      }
    }),
    { numRuns: 300 },
  );
});

// Measured in the dev container (Node 24): a fresh process does 100,000 × (parseWindow + windowAt) over
// 300 windows in 19 zones, `now` spread over 7 days, in ~125 ms (caches and JIT cold), ~45 ms warm;
// 100,000 luxon `DateTime.fromObject` calls alone take ~1,400 ms. Speed targets proper belong in bench/.
test('speed: 100,000 windowAt calls over 300 distinct windows (diagnostic, not a timed assertion)', (t) => {
  const texts = fc.sample(
    fc.array(ruleText, { minLength: 1, maxLength: 2 }).map((r) => r.join('; ')),
    { numRuns: 300, seed: 42 },
  );
  const now = Date.UTC(2026, 9, 24, 22, 0);
  const run = (nowOf: (i: number) => number): number => {
    const started = performance.now();
    let open = 0;
    // As the scheduler will: each instance's window text parsed (cached by text), then evaluated.
    for (let i = 0; i < 100_000; i += 1)
      if (windowAt(parseWindow(texts[i % texts.length] ?? 'never'), nowOf(i)).open) open += 1;
    assert.ok(open > 0 && open < 100_000);
    return performance.now() - started;
  };
  const cold = run(() => now);
  const sameNow = run(() => now + 1);
  const spreadNow = run((i) => now + (i % 1000) * 600_000);
  t.diagnostic(
    `100,000 × (parseWindow + windowAt), 300 distinct windows in ${ZONES.length} zones: ` +
      `first pass ${cold.toFixed(0)} ms, again at one shared now ${sameNow.toFixed(0)} ms, now spread over 7 days ${spreadNow.toFixed(0)} ms`,
  );
});
