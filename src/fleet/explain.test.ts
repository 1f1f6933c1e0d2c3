import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HaltRecord } from '../store/index.ts';
import { explain, humanDuration } from './explain.ts';
import type { Decision, InstancePlan } from './index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (iso: string): number => Date.parse(iso);
const NOW = at('2026-11-22T19:48:00Z');

function entry(decision: Decision, over: Partial<InstancePlan> = {}): InstancePlan {
  return {
    instance: 'acme-live',
    app: 'shop',
    environment: 'production',
    wave: 1,
    window: 'daily 01:00-04:00 Europe/London',
    zone: 'Europe/London',
    currentVersion: '1.4.3',
    target: { kind: 'channel', channel: 'stable', version: '1.5.0', onTarget: false },
    decision,
    ...over,
  };
}

const HALT: HaltRecord = {
  id: 4,
  app: 'shop',
  version: '1.5.0',
  reason: '3 of 5 upgrades of shop to 1.5.0 failed (budget: more than 2 or 25 %)',
  problemId: 12,
  haltedAt: NOW - HOUR,
  haltedBy: 'scheduler',
  liftedBy: null,
  liftedAt: null,
  liftReason: null,
};

test('humanDuration', () => {
  assert.equal(humanDuration(0), 'less than a minute');
  assert.equal(humanDuration(30_000), '1 min');
  assert.equal(humanDuration(12 * MIN), '12 min');
  assert.equal(humanDuration(5 * HOUR), '5 h');
  assert.equal(humanDuration(5 * HOUR + 12 * MIN), '5 h 12 min');
  assert.equal(humanDuration(5 * HOUR + 11 * MIN + 30_000), '5 h 12 min');
  assert.equal(humanDuration(DAY), '1 day');
  assert.equal(humanDuration(DAY + 5 * HOUR + 3 * MIN), '1 day 5 h');
  assert.equal(humanDuration(3 * DAY), '3 days');
  assert.equal(humanDuration(2 * DAY + 20 * HOUR), '2 days 20 h');
  assert.equal(humanDuration(8 * DAY + 13 * HOUR), '9 days');
});

test('on target, no target, unresolved', () => {
  assert.equal(explain(entry({ kind: 'on-target', version: '1.4.3' }), NOW), 'acme-live is on its target 1.4.3 (channel stable).');
  assert.equal(
    explain(entry({ kind: 'on-target', version: '1.4.3' }, { target: { kind: 'version', version: '1.4.3', onTarget: true } }), NOW),
    'acme-live is on its target 1.4.3 (pinned version).',
  );
  assert.equal(
    explain(entry({ kind: 'no-target' }, { target: { kind: 'none' } }), NOW),
    'acme-live has no target; set one with `cutover instance target acme-live --version VERSION` or `--channel CHANNEL`.',
  );
  assert.equal(
    explain(entry({ kind: 'unresolved', channel: 'beta' }, { target: { kind: 'channel', channel: 'beta', version: null, onTarget: false } }), NOW),
    'acme-live has nothing to run: channel beta points at no release of shop yet; promote one with `cutover channel promote VERSION beta`.',
  );
});

test('waiting for the window, in local time and UTC', () => {
  assert.equal(
    explain(entry({ kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-23T01:00:00Z') }), NOW),
    'acme-live waits for its maintenance window: the next one opens in 5 h 12 min, at 01:00 Europe/London (2026-11-23 01:00 UTC), to upgrade 1.4.3 → 1.5.0.',
  );
  // Summer time: local 01:00 BST is 00:00 UTC; more than a day away, the local date is shown.
  assert.equal(
    explain(entry({ kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-07-04T00:00:00Z') }, { currentVersion: null }), at('2026-07-01T12:00:00Z')),
    'acme-live waits for its maintenance window: the next one opens in 2 days 12 h, at 2026-07-04 01:00 Europe/London (2026-07-04 00:00 UTC), to deploy 1.5.0.',
  );
  const tokyo = { window: 'daily 22:00-02:00 Asia/Tokyo', zone: 'Asia/Tokyo' };
  assert.equal(
    explain(entry({ kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-23T13:00:00Z') }, tokyo), at('2026-11-22T17:30:00Z')),
    'acme-live waits for its maintenance window: the next one opens in 19 h 30 min, at 22:00 Asia/Tokyo (2026-11-23 13:00 UTC), to upgrade 1.4.3 → 1.5.0.',
  );
  assert.equal(
    explain(entry({ kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-23T01:00:00Z') }, { window: 'daily 01:00-02:00 UTC', zone: 'UTC' }), NOW),
    'acme-live waits for its maintenance window: the next one opens in 5 h 12 min, at 2026-11-23 01:00 UTC, to upgrade 1.4.3 → 1.5.0.',
  );
  assert.equal(
    explain(entry({ kind: 'waiting-window', version: '1.5.0', opensAt: null }, { window: 'never', zone: 'UTC' }), NOW),
    'acme-live will not upgrade 1.4.3 → 1.5.0: its maintenance window is "never".',
  );
});

test('held, with and without an end', () => {
  const hold = { instance: 'acme-live', owner: 'alice', reason: 'migrating customer data', createdAt: NOW - DAY, until: at('2026-12-01T00:00:00Z') };
  assert.equal(
    explain(entry({ kind: 'held', hold }, { zone: 'UTC', window: 'anytime' }), NOW),
    'acme-live is held by alice until 2026-12-01 00:00 UTC: "migrating customer data".',
  );
  assert.equal(
    explain(entry({ kind: 'held', hold: { ...hold, until: at('2026-06-01T00:00:00Z') } }), NOW),
    'acme-live is held by alice until 2026-06-01 01:00 Europe/London (2026-06-01 00:00 UTC): "migrating customer data".',
  );
  assert.equal(explain(entry({ kind: 'held', hold: { ...hold, until: null } }), NOW), 'acme-live is held by alice until released: "migrating customer data".');
});

test('halted: by the budget, just now, or by a person', () => {
  const resume = 'an admin resumes it with `cutover fleet resume 1.5.0 --reason …`.';
  assert.equal(
    explain(entry({ kind: 'halted', version: '1.5.0', halt: HALT, failures: 3, attempted: 5 }), NOW),
    `acme-live stays on 1.4.3: the rollout of 1.5.0 is halted by the failure budget (3 of 5 upgrades failed; problem #12); ${resume}`,
  );
  assert.equal(
    explain(entry({ kind: 'halted', version: '1.5.0', halt: null, failures: 3, attempted: 3 }, { currentVersion: null }), NOW),
    `acme-live stays undeployed: the rollout of 1.5.0 halts now, its failure budget ran out (3 of 3 upgrades failed); ${resume}`,
  );
  assert.equal(
    explain(entry({ kind: 'halted', version: '1.5.0', halt: { ...HALT, haltedBy: 'bob', reason: 'bad migration', problemId: null }, failures: 0, attempted: 1 }), NOW),
    `acme-live stays on 1.4.3: the rollout of 1.5.0 is halted by bob ("bad migration"); ${resume}`,
  );
});

test('waves, deploying, capacity, upgrade', () => {
  assert.equal(
    explain(entry({ kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 0, need: 1 }), NOW),
    'acme-live waits for the test wave: 0 of 1 test instances run 1.5.0 yet.',
  );
  assert.equal(explain(entry({ kind: 'deploying', version: '1.5.0' }), NOW), 'acme-live is deploying 1.5.0 now.');
  assert.equal(explain(entry({ kind: 'deploying', version: '1.4.9' }), NOW), 'acme-live is deploying 1.4.9 now; its target 1.5.0 comes after.');
  assert.equal(
    explain(entry({ kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null }), NOW),
    'acme-live is due to upgrade 1.4.3 → 1.5.0 but waits for capacity: the fleet-wide limit of parallel upgrades is reached; it starts at a later tick.',
  );
  assert.equal(
    explain(entry({ kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'web-3' }), NOW),
    'acme-live is due to upgrade 1.4.3 → 1.5.0 but waits for capacity: machine web-3 already runs its limit of parallel upgrades; it starts at a later tick.',
  );
  assert.equal(
    explain(entry({ kind: 'capacity', version: '1.5.0', limit: 'machine', machine: '(local)' }), NOW),
    'acme-live is due to upgrade 1.4.3 → 1.5.0 but waits for capacity: the machine of the instances without a placement (local) already runs its limit of parallel upgrades; it starts at a later tick.',
  );
  assert.equal(explain(entry({ kind: 'upgrade', from: '1.4.3', to: '1.5.0' }), NOW), 'acme-live is due: upgrading 1.4.3 → 1.5.0 now (wave 2, production).');
  assert.equal(explain(entry({ kind: 'upgrade', from: null, to: '1.5.0' }, { wave: 0, environment: 'test' }), NOW), 'acme-live is due: deploying 1.5.0 now (wave 1, test).');
});

test('retries and giving up, with the failure in local time', () => {
  const failedAt = at('2026-11-23T01:12:00Z');
  const later = at('2026-11-23T01:15:00Z');
  const retry: Decision = { kind: 'retry-wait', version: '1.5.0', attempts: 1, retryAt: at('2026-11-23T01:22:00Z'), lastError: 'health check failed:\n  GET /healthz → 503', lastFailedAt: failedAt };
  assert.equal(
    explain(entry(retry), later, { maxAttempts: 3 }),
    'acme-live failed to upgrade to 1.5.0 at 01:12 Europe/London (health check failed: GET /healthz → 503); retry 2 of 3 at 01:22 Europe/London (2026-11-23 01:22 UTC).',
  );
  assert.equal(
    explain(entry({ ...retry, attempts: 2, lastError: null }), later),
    'acme-live failed to upgrade to 1.5.0 2 times, last at 01:12 Europe/London; retry 3 at 01:22 Europe/London (2026-11-23 01:22 UTC).',
  );
  const long = 'x'.repeat(500);
  const sentence = explain(entry({ ...retry, lastError: long }), later);
  assert.ok(sentence.length < 320 && sentence.includes('x…)'), sentence);
  assert.equal(
    explain(entry({ kind: 'gave-up', version: '1.5.0', attempts: 3, lastError: 'health check failed', lastFailedAt: failedAt }), later + 3 * DAY),
    'acme-live failed to upgrade to 1.5.0 3 times, last at 2026-11-23 01:12 Europe/London (health check failed); the scheduler gave up after 3 attempts: deploy it by hand, or change its target.',
  );
});

test('every sentence is one sentence: ends with one period, no line breaks', () => {
  const decisions: Decision[] = [
    { kind: 'on-target', version: '1.5.0' },
    { kind: 'no-target' },
    { kind: 'unresolved', channel: 'beta' },
    { kind: 'held', hold: { instance: 'acme-live', owner: 'a', reason: 'r', createdAt: 0, until: null } },
    { kind: 'deploying', version: '1.5.0' },
    { kind: 'halted', version: '1.5.0', halt: HALT, failures: 3, attempted: 5 },
    { kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 0, need: 1 },
    { kind: 'waiting-window', version: '1.5.0', opensAt: NOW + HOUR },
    { kind: 'retry-wait', version: '1.5.0', attempts: 1, retryAt: NOW + HOUR, lastError: 'boom', lastFailedAt: NOW - HOUR },
    { kind: 'gave-up', version: '1.5.0', attempts: 3, lastError: 'boom', lastFailedAt: NOW - HOUR },
    { kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null },
    { kind: 'upgrade', from: '1.4.3', to: '1.5.0' },
  ];
  for (const d of decisions) {
    const s = explain(entry(d), NOW);
    assert.match(s, /^acme-live [^\n]*\.$/, s);
    assert.doesNotMatch(s.slice(0, -1), /\.\s/, s);
  }
});
