import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelMove, ChannelPointer, ChannelRecord, ChannelPolicy, ProblemRecord } from '../store/index.ts';
import { duePromotions } from './due-promotions.ts';
import type { DuePromotionsInput } from './due-promotions.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T12:00:00Z');

function channel(name: string, policy: Partial<ChannelPolicy> = {}): ChannelRecord {
  return {
    name,
    description: name,
    policy: { soak: null, blockOnOpenProblems: false, allowPrerelease: true, ...policy },
    builtIn: true,
    createdAt: 0,
    createdBy: 'system',
    updatedAt: 0,
  };
}

const STABLE = channel('stable', { soak: { channel: 'release', days: 14 }, blockOnOpenProblems: true, allowPrerelease: false, autoPromote: true });
const CHANNELS = [channel('release'), STABLE];

function pointer(app: string, channel: string, version: string): ChannelPointer {
  return { app, channel, version, movedAt: 0, movedBy: 'ci' };
}

let moveId = 0;
function move(app: string, channel: string, toVersion: string, at: number, fromVersion: string | null = null): ChannelMove {
  moveId += 1;
  return { id: moveId, app, channel, fromVersion, toVersion, at, actor: 'ci', reason: null, forced: false };
}

function problem(app: string, version: string, status: ProblemRecord['status'] = 'open'): ProblemRecord {
  return { id: 12, app, version, title: 'checkout broken', details: null, status, source: 'user', reportedBy: 'alice', reportedAt: NOW - DAY, resolvedBy: null, resolvedAt: null, resolution: null };
}

/** shop: 1.5.0 on release for `soakedDays`, stable on 1.4.0. */
function input(over: Partial<DuePromotionsInput> = {}, soakedDays = 15): DuePromotionsInput {
  return {
    apps: ['shop'],
    channels: CHANNELS,
    pointers: [pointer('shop', 'release', '1.5.0'), pointer('shop', 'stable', '1.4.0')],
    moves: [move('shop', 'release', '1.4.0', NOW - 60 * DAY), move('shop', 'stable', '1.4.0', NOW - 40 * DAY), move('shop', 'release', '1.5.0', NOW - soakedDays * DAY, '1.4.0')],
    openProblems: [],
    now: NOW,
    ...over,
  };
}

test('a soaked candidate with no open problem is due', () => {
  assert.deepEqual(duePromotions(input()), [{ app: 'shop', channel: 'stable', version: '1.5.0', from: '1.4.0' }]);
});

test('not yet soaked: nothing due, until the soak is met', () => {
  assert.deepEqual(duePromotions(input({}, 10)), []);
  assert.deepEqual(duePromotions(input({ now: NOW + 4 * DAY }, 10)), [{ app: 'shop', channel: 'stable', version: '1.5.0', from: '1.4.0' }]);
});

test('an open problem of the candidate blocks it; resolved ones and other releases do not', () => {
  assert.deepEqual(duePromotions(input({ openProblems: [problem('shop', '1.5.0')] })), []);
  assert.equal(duePromotions(input({ openProblems: [problem('shop', '1.5.0', 'resolved'), problem('shop', '1.4.0'), problem('blog', '1.5.0')] })).length, 1);
});

test('already there, or an older candidate: nothing due', () => {
  const there = [pointer('shop', 'release', '1.5.0'), pointer('shop', 'stable', '1.5.0')];
  assert.deepEqual(duePromotions(input({ pointers: there })), []);
  const older = [pointer('shop', 'release', '1.5.0'), pointer('shop', 'stable', '1.6.0')];
  assert.deepEqual(duePromotions(input({ pointers: older })), []);
  // Newer by semver, not by text: 1.10.0 follows 1.9.0.
  const semverInput = input({
    pointers: [pointer('shop', 'release', '1.10.0'), pointer('shop', 'stable', '1.9.0')],
    moves: [move('shop', 'release', '1.10.0', NOW - 20 * DAY)],
  });
  assert.deepEqual(duePromotions(semverInput), [{ app: 'shop', channel: 'stable', version: '1.10.0', from: '1.9.0' }]);
});

test('a channel that points nowhere yet gets the candidate', () => {
  assert.deepEqual(duePromotions(input({ pointers: [pointer('shop', 'release', '1.5.0')] })), [{ app: 'shop', channel: 'stable', version: '1.5.0', from: null }]);
});

test('only channels with autoPromote and a soak channel; nothing without a candidate', () => {
  const manual = channel('stable', { ...STABLE.policy, autoPromote: false });
  const legacy = channel('stable', { soak: STABLE.policy.soak, blockOnOpenProblems: true, allowPrerelease: false });
  const noSoak = channel('stable', { autoPromote: true });
  for (const c of [manual, legacy, noSoak]) assert.deepEqual(duePromotions(input({ channels: [channel('release'), c] })), []);
  assert.deepEqual(duePromotions(input({ pointers: [pointer('shop', 'stable', '1.4.0')] })), []);
});

test('the channel policy still applies: a pre-release is not promoted to stable', () => {
  const rc = input({ pointers: [pointer('shop', 'release', '1.6.0-rc.1'), pointer('shop', 'stable', '1.5.0')], moves: [move('shop', 'release', '1.6.0-rc.1', NOW - 20 * DAY)] });
  assert.deepEqual(duePromotions(rc), []);
});

test('several apps and channels: each app on its own history, in the order given', () => {
  const beta = channel('beta', { soak: { channel: 'alpha', days: 1 }, autoPromote: true });
  const result = duePromotions({
    apps: ['shop', 'blog', 'wiki'],
    channels: [channel('alpha'), beta, channel('release'), STABLE],
    pointers: [
      pointer('shop', 'release', '1.5.0'),
      pointer('shop', 'stable', '1.4.0'),
      pointer('shop', 'alpha', '1.6.0'),
      pointer('blog', 'release', '3.0.0'),
      pointer('blog', 'stable', '2.0.0'),
    ],
    moves: [
      move('blog', 'release', '3.0.0', NOW - 30 * DAY),
      move('shop', 'alpha', '1.6.0', NOW - 2 * DAY),
      // shop's release moved recently: blog's older move must not count for it.
      move('shop', 'release', '1.5.0', NOW - 3 * DAY),
    ],
    openProblems: [],
    now: NOW,
  });
  assert.deepEqual(result, [
    { app: 'shop', channel: 'beta', version: '1.6.0', from: null },
    { app: 'blog', channel: 'stable', version: '3.0.0', from: '2.0.0' },
  ]);
});
