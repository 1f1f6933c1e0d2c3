import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DAY_MS } from '../shared/index.ts';
import type { ChannelMove, ChannelPolicy, ChannelRecord, ProblemRecord } from '../store/index.ts';
import { DEFAULT_CHANNELS, defaultChannels, evaluatePromotion, formatMinuteUtc, soakTime } from './promotion-policy.ts';
import type { PromotionInput } from './promotion-policy.ts';

const T0 = Date.UTC(2026, 10, 1, 10, 0); // 2026-11-01T10:00Z
const HOUR = 3_600_000;

function channel(name: string, policy: Partial<ChannelPolicy> = {}): ChannelRecord {
  return {
    name,
    description: '',
    policy: { soak: null, blockOnOpenProblems: false, allowPrerelease: true, ...policy },
    builtIn: false,
    createdAt: 0,
    createdBy: 'test',
    updatedAt: 0,
  };
}

const STABLE = defaultChannels(0, 'system').find((c) => c.name === 'stable')!;

let nextId = 1;
function move(channelName: string, toVersion: string, at: number, app = 'shop'): ChannelMove {
  return { id: nextId++, app, channel: channelName, fromVersion: null, toVersion, at, actor: 'ci', reason: null, forced: false };
}

function problem(id: number, title: string, overrides: Partial<ProblemRecord> = {}): ProblemRecord {
  return {
    id,
    app: 'shop',
    version: '1.2.0',
    title,
    details: null,
    status: 'open',
    source: 'user',
    reportedBy: 'ops',
    reportedAt: T0,
    resolvedBy: null,
    resolvedAt: null,
    resolution: null,
    ...overrides,
  };
}

function input(overrides: Partial<PromotionInput> = {}): PromotionInput {
  return { app: 'shop', version: '1.2.0', channel: STABLE, moves: [], openProblems: [], now: T0, ...overrides };
}

test('DEFAULT_CHANNELS: alpha, beta, release open to pre-releases; stable soaks 14 days on release', () => {
  assert.deepEqual(
    DEFAULT_CHANNELS.map((c) => c.name),
    ['alpha', 'beta', 'release', 'stable'],
  );
  for (const c of DEFAULT_CHANNELS.slice(0, 3)) {
    assert.deepEqual(c.policy, { soak: null, blockOnOpenProblems: false, allowPrerelease: true });
    assert.ok(c.description.length > 0);
  }
  assert.deepEqual(STABLE.policy, { soak: { channel: 'release', days: 14 }, blockOnOpenProblems: true, allowPrerelease: false });
  const records = defaultChannels(5, 'system');
  assert.ok(records.every((r) => r.builtIn && r.createdAt === 5 && r.updatedAt === 5 && r.createdBy === 'system'));
  // Fresh objects: a caller mutating one must not change the built-in definitions.
  records[3]!.policy.soak!.days = 1;
  assert.equal(defaultChannels(0, 'x')[3]!.policy.soak!.days, 14);
});

test('a channel with no rules allows anything', () => {
  const verdict = evaluatePromotion(input({ channel: channel('beta'), version: '1.2.0-beta.1', openProblems: [problem(1, 'x')] }));
  assert.deepEqual(verdict, { allowed: true, failures: [] });
});

test('soak: never on the soak channel', () => {
  const v = evaluatePromotion(input({ moves: [move('beta', '1.2.0', T0 - 30 * DAY_MS)] }));
  assert.equal(v.allowed, false);
  assert.equal(v.failures.length, 1);
  assert.equal(v.failures[0]!.message, 'POLICY_SOAK_NOT_MET: never on release (needs 14 days)');
  assert.equal(v.eligibleAt, undefined);
  assert.deepEqual(v.failures[0]!.details, {
    channel: 'release',
    requiredDays: 14,
    requiredMs: 14 * DAY_MS,
    soakedMs: 0,
    onChannelNow: false,
    everOnChannel: false,
  });
});

test('soak: on the channel now, not long enough, with the eligible time', () => {
  const now = T0 + 9 * DAY_MS + 5 * HOUR;
  const v = evaluatePromotion(input({ now, moves: [move('release', '1.2.0', T0)] }));
  assert.equal(v.failures[0]!.message, 'POLICY_SOAK_NOT_MET: 9 days of 14 on release; eligible 2026-11-15T10:00Z');
  assert.equal(v.eligibleAt, T0 + 14 * DAY_MS);
  assert.equal(v.failures[0]!.code === 'POLICY_SOAK_NOT_MET' && v.failures[0]!.details.eligibleAt, T0 + 14 * DAY_MS);
});

test('soak: boundary exactly at 14 days passes, one millisecond less fails', () => {
  const moves = [move('release', '1.2.0', T0)];
  assert.equal(evaluatePromotion(input({ moves, now: T0 + 14 * DAY_MS })).allowed, true);
  const short = evaluatePromotion(input({ moves, now: T0 + 14 * DAY_MS - 1 }));
  assert.equal(short.allowed, false);
  assert.equal(short.eligibleAt, T0 + 14 * DAY_MS);
  assert.equal(short.failures[0]!.message, 'POLICY_SOAK_NOT_MET: 13 days of 14 on release; eligible 2026-11-15T10:00Z');
});

test('soak: intervals are summed when the version left the channel and came back', () => {
  const moves = [
    move('release', '1.2.0', T0),
    move('release', '1.3.0', T0 + 5 * DAY_MS), // 5 days
    move('beta', '1.2.0', T0 + 6 * DAY_MS), // another channel: no effect
    move('release', '1.2.0', T0 + 8 * DAY_MS),
    move('release', '1.2.0', T0 + 9 * DAY_MS), // re-promotion of the same version: stay continues
  ];
  const now = T0 + 15 * DAY_MS; // 5 + 7 = 12 days
  const v = evaluatePromotion(input({ moves, now }));
  assert.equal(v.failures[0]!.message, 'POLICY_SOAK_NOT_MET: 12 days of 14 on release; eligible 2026-11-18T10:00Z');
  assert.equal(v.eligibleAt, now + 2 * DAY_MS);
  assert.equal(evaluatePromotion(input({ moves, now: now + 2 * DAY_MS })).allowed, true);
});

test('soak: no longer on the channel, not long enough: no eligible time', () => {
  const moves = [move('release', '1.2.0', T0), move('release', '1.3.0', T0 + 3 * DAY_MS + HOUR)];
  const v = evaluatePromotion(input({ moves, now: T0 + 40 * DAY_MS }));
  assert.equal(v.failures[0]!.message, 'POLICY_SOAK_NOT_MET: 3 days of 14 on release, and it is no longer on release');
  assert.equal(v.eligibleAt, undefined);
});

test('soak: long enough in the past passes even after the channel moved on', () => {
  const moves = [move('release', '1.2.0', T0), move('release', '1.3.0', T0 + 20 * DAY_MS)];
  assert.equal(evaluatePromotion(input({ moves, now: T0 + 21 * DAY_MS })).allowed, true);
});

test('soak: moves of other apps do not count', () => {
  const moves = [move('release', '1.2.0', T0 - 30 * DAY_MS, 'other')];
  assert.match(evaluatePromotion(input({ moves })).failures[0]!.message, /never on release/);
});

test('soak: 0 days needs the version to have been on the channel', () => {
  const zero = channel('gated', { soak: { channel: 'release', days: 0 } });
  assert.equal(evaluatePromotion(input({ channel: zero })).failures[0]!.message, 'POLICY_SOAK_NOT_MET: never on release (it must be on release first)');
  assert.equal(evaluatePromotion(input({ channel: zero, moves: [move('release', '1.2.0', T0)] })).allowed, true);
});

test('soak: time after now never counts (moves dated in the future)', () => {
  const t = soakTime([move('release', '1.2.0', T0 + DAY_MS)], 'shop', 'release', '1.2.0', T0);
  assert.deepEqual(t, { soakedMs: 0, onChannelNow: true, everOnChannel: true });
});

test('open problems: all of them listed, by id, quoted', () => {
  const moves = [move('release', '1.2.0', T0 - 20 * DAY_MS)];
  const v = evaluatePromotion(
    input({
      moves,
      openProblems: [
        problem(15, 'checkout says "oops"'),
        problem(12, 'login loop on Safari'),
        problem(13, 'resolved one', { status: 'resolved' }),
        problem(14, 'other version', { version: '1.1.0' }),
      ],
    }),
  );
  assert.equal(v.allowed, false);
  assert.equal(v.failures.length, 1);
  assert.equal(v.failures[0]!.code, 'POLICY_OPEN_PROBLEMS');
  assert.equal(v.failures[0]!.message, 'POLICY_OPEN_PROBLEMS: #12 "login loop on Safari", #15 "checkout says \\"oops\\""');
  assert.deepEqual(v.failures[0]!.details, {
    problems: [
      { id: 12, title: 'login loop on Safari' },
      { id: 15, title: 'checkout says "oops"' },
    ],
  });
  assert.equal(v.eligibleAt, undefined);
});

test('open problems are ignored when the policy does not block on them', () => {
  const c = channel('release', { blockOnOpenProblems: false });
  assert.equal(evaluatePromotion(input({ channel: c, openProblems: [problem(1, 'x')] })).allowed, true);
});

test('pre-release: refused by a channel that takes only releases, computed or given', () => {
  const c = channel('stable', { allowPrerelease: false });
  const v = evaluatePromotion(input({ channel: c, version: '1.2.0-beta.2' }));
  assert.deepEqual(v.failures, [
    {
      code: 'POLICY_PRERELEASE',
      message: 'POLICY_PRERELEASE: 1.2.0-beta.2 is a pre-release; stable takes only releases',
      details: { version: '1.2.0-beta.2', channel: 'stable' },
    },
  ]);
  assert.equal(evaluatePromotion(input({ channel: c, version: '1.2.0' })).allowed, true);
  assert.equal(evaluatePromotion(input({ channel: c, version: '1.2.0', isPrerelease: true })).allowed, false);
  assert.equal(evaluatePromotion(input({ channel: c, version: '1.2.0-rc.1', isPrerelease: false })).allowed, true);
});

test('every failing rule is reported, in policy order', () => {
  const version = '1.2.0-rc.1';
  const v = evaluatePromotion(
    input({
      version,
      now: T0 + 2 * DAY_MS,
      moves: [move('release', version, T0)],
      openProblems: [problem(3, 'slow', { version })],
    }),
  );
  assert.deepEqual(
    v.failures.map((f) => f.code),
    ['POLICY_SOAK_NOT_MET', 'POLICY_OPEN_PROBLEMS', 'POLICY_PRERELEASE'],
  );
  assert.equal(v.eligibleAt, T0 + 14 * DAY_MS);
  assert.equal(v.allowed, false);
});

test('formatMinuteUtc is UTC whatever the DST of local zones, rounded up to the minute', (t) => {
  const tz = process.env['TZ'];
  t.after(() => {
    if (tz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = tz;
  });
  process.env['TZ'] = 'Europe/Berlin';
  // Around the 2026 EU and US DST changes: the text must not shift by an hour.
  assert.equal(formatMinuteUtc(Date.UTC(2026, 2, 29, 1, 30)), '2026-03-29T01:30Z');
  assert.equal(formatMinuteUtc(Date.UTC(2026, 10, 1, 6, 0)), '2026-11-01T06:00Z');
  assert.equal(formatMinuteUtc(Date.UTC(2026, 11, 1, 10, 0)), '2026-12-01T10:00Z');
  assert.equal(formatMinuteUtc(Date.UTC(2026, 11, 1, 9, 59, 0, 1)), '2026-12-01T10:00Z');
  assert.equal(formatMinuteUtc(Date.UTC(2026, 11, 31, 23, 59, 30)), '2027-01-01T00:00Z');
});

// Random histories: a few versions moving across two channels at increasing times.
const historyArb = fc
  .array(
    fc.record({
      channel: fc.constantFrom('release', 'beta'),
      version: fc.constantFrom('1.2.0', '1.3.0', '1.4.0'),
      gap: fc.integer({ min: 0, max: 10 * DAY_MS }),
    }),
    { maxLength: 12 },
  )
  .map((steps) => {
    let at = T0;
    return steps.map((s) => move(s.channel, s.version, (at += s.gap)));
  });

test('property: eligibleAt is never before now, and at eligibleAt the soak is met', () => {
  fc.assert(
    fc.property(historyArb, fc.integer({ min: 0, max: 30 * DAY_MS }), fc.integer({ min: 0, max: 30 }), (moves, after, days) => {
      const last = moves.at(-1)?.at ?? T0;
      const now = last + after;
      const c = channel('stable', { soak: { channel: 'release', days } });
      const v = evaluatePromotion(input({ channel: c, moves, now }));
      const soakFailed = v.failures.some((f) => f.code === 'POLICY_SOAK_NOT_MET');
      assert.equal(v.allowed, !soakFailed);
      if (v.eligibleAt === undefined) return;
      assert.ok(v.eligibleAt >= now);
      assert.ok(soakFailed);
      const again = evaluatePromotion(input({ channel: c, moves, now: v.eligibleAt }));
      assert.equal(again.allowed, true);
      // And not a millisecond earlier: eligibleAt is the exact moment.
      if (v.eligibleAt > now) assert.equal(evaluatePromotion(input({ channel: c, moves, now: v.eligibleAt - 1 })).allowed, false);
    }),
  );
});

test('property: soaked time never exceeds the time since the first move, and grows with now', () => {
  fc.assert(
    fc.property(historyArb, fc.integer({ min: 0, max: 5 * DAY_MS }), fc.integer({ min: 0, max: 5 * DAY_MS }), (moves, a, b) => {
      const last = moves.at(-1)?.at ?? T0;
      const t1 = soakTime(moves, 'shop', 'release', '1.2.0', last + a);
      const t2 = soakTime(moves, 'shop', 'release', '1.2.0', last + a + b);
      assert.ok(t1.soakedMs <= last + a - T0);
      assert.ok(t2.soakedMs >= t1.soakedMs);
      assert.equal(t2.soakedMs - t1.soakedMs, t1.onChannelNow ? b : 0);
    }),
  );
});
