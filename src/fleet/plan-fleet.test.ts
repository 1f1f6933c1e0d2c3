import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import type { HaltRecord, HoldRecord, InstanceRecord } from '../store/index.ts';
import { LOCAL_MACHINE, fleetPolicySchema, pointerIndex } from './index.ts';
import type { Attempt, Decision, FleetPlan, PlanInput } from './index.ts';
import { planFleet } from './plan-fleet.ts';
import { explain } from './explain.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (iso: string): number => Date.parse(iso);
/** A Sunday evening in November: London is on GMT, its 01:00-04:00 window opens in 5 h 12 min. */
const NOW = at('2026-11-22T19:48:00Z');

function inst(name: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    name,
    app: 'shop',
    hosts: [],
    environment: 'production',
    tenant: null,
    labels: {},
    target: { channel: 'stable' },
    window: null,
    placement: null,
    currentVersion: '1.4.3',
    activeColor: 'blue',
    slots: { blue: null, green: null },
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

const POINTERS = pointerIndex([
  { app: 'shop', channel: 'stable', version: '1.5.0', movedAt: 0, movedBy: 'ci' },
  { app: 'shop', channel: 'beta', version: '1.6.0-beta.1', movedAt: 0, movedBy: 'ci' },
  { app: 'blog', channel: 'stable', version: '1.5.0', movedAt: 0, movedBy: 'ci' },
]);

/** A plan's input with the policy as written (defaults filled in by the schema). */
type TestInput = Partial<Omit<PlanInput, 'policy'>> & { policy?: z.input<typeof fleetPolicySchema> };

function plan(over: TestInput = {}): FleetPlan {
  const { policy, ...rest } = over;
  return planFleet({
    now: NOW,
    instances: [],
    pointers: POINTERS,
    holds: new Map(),
    halts: [],
    attempts: [],
    machines: new Map(),
    ...rest,
    // Generous limits unless a test is about them, so capacity never hides another gate.
    policy: fleetPolicySchema.parse({ maxParallel: 1000, maxParallelPerMachine: 1000, ...policy }),
  });
}

/** Each instance's machines, as `loadPlanInput` resolves them from placements. */
function placed(machines: Record<string, string[]>): PlanInput['machines'] {
  return new Map(Object.entries(machines));
}

function attempt(instance: string, version: string, outcome: Attempt['outcome'], finishedAt: number | null, over: Partial<Attempt> = {}): Attempt {
  return {
    instance,
    app: 'shop',
    version,
    startedAt: (finishedAt ?? NOW) - 5 * MIN,
    finishedAt,
    outcome,
    error: outcome === 'failed' ? 'health check failed: 503' : null,
    scheduled: true,
    ...over,
  };
}

function halt(over: Partial<HaltRecord> = {}): HaltRecord {
  return { id: 1, app: 'shop', version: '1.5.0', reason: 'budget', problemId: 12, haltedAt: NOW - DAY, haltedBy: 'scheduler', liftedBy: null, liftedAt: null, liftReason: null, ...over };
}

function hold(instance: string, until: number | null): HoldRecord {
  return { instance, owner: 'alice', reason: 'migrating customer data', createdAt: NOW - DAY, until };
}

function decisions(p: FleetPlan): Record<string, Decision> {
  return Object.fromEntries(p.entries.map((e) => [e.instance, e.decision]));
}

function kindOf(p: FleetPlan, name: string): Decision['kind'] | undefined {
  return p.entries.find((e) => e.instance === name)?.decision.kind;
}

test('targets: none, unresolved channel, on target (channel and exact version), and due', () => {
  const p = plan({
    instances: [
      inst('none', { target: null }),
      inst('legacy', { target: undefined as unknown as null }),
      inst('nowhere', { target: { channel: 'alpha' } }),
      inst('on-channel', { currentVersion: '1.5.0' }),
      inst('on-version', { target: { version: '1.4.3' } }),
      inst('due'),
      inst('first', { currentVersion: null }),
    ],
  });
  assert.deepEqual(decisions(p), {
    none: { kind: 'no-target' },
    legacy: { kind: 'no-target' },
    nowhere: { kind: 'unresolved', channel: 'alpha' },
    'on-channel': { kind: 'on-target', version: '1.5.0' },
    'on-version': { kind: 'on-target', version: '1.4.3' },
    due: { kind: 'upgrade', from: '1.4.3', to: '1.5.0' },
    first: { kind: 'upgrade', from: null, to: '1.5.0' },
  });
  assert.deepEqual(p.counts, { 'no-target': 2, unresolved: 1, 'on-target': 2, upgrade: 2 });
  assert.deepEqual(p.entries.map((e) => e.instance), ['none', 'legacy', 'nowhere', 'on-channel', 'on-version', 'due', 'first']);
  assert.equal(p.at, NOW);
  assert.deepEqual(p.halts, []);
});

test('precedence: each gate hides the ones after it', () => {
  // One instance failing every gate; the gates are opened one by one, in order.
  const name = 'x';
  const base = {
    policy: { windows: { production: 'never' }, maxParallel: 1 },
    instances: [inst(name), inst('t1', { environment: 'test' })],
    holds: new Map([[name, hold(name, null)]]),
    attempts: [attempt(name, '1.4.9', 'running', null), attempt(name, '1.5.0', 'failed', NOW - MIN)],
    halts: [halt()],
  };
  const steps: Array<[Decision['kind'], TestInput]> = [
    ['on-target', { instances: [inst(name, { currentVersion: '1.5.0' })] }],
    ['held', {}],
    ['deploying', { holds: new Map([[name, hold(name, NOW - 1)]]) }],
    ['halted', { attempts: base.attempts.slice(1) }],
    ['retry-wait', { halts: [] }],
    ['waiting-wave', { attempts: [attempt(name, '1.5.0', 'failed', NOW - DAY)] }],
    ['waiting-window', { instances: [inst(name), inst('t1', { environment: 'test', currentVersion: '1.5.0' })] }],
    ['capacity', { policy: { maxParallel: 1 }, attempts: [attempt('elsewhere', '1.5.0', 'running', null)] }],
    ['upgrade', { attempts: [] }],
  ];
  let input: TestInput = { ...base };
  for (const [expected, change] of steps) {
    const tried = { ...input, ...change };
    assert.equal(kindOf(plan(tried), name), expected, `expected ${expected}`);
    // The on-target step only shows that it wins; the others accumulate.
    if (expected !== 'on-target') input = tried;
  }
});

test('holds: an active hold wins, an expired one is ignored', () => {
  const p = plan({
    instances: [inst('forever'), inst('later'), inst('expired'), inst('just-expired'), inst('free')],
    holds: new Map([
      ['forever', hold('forever', null)],
      ['later', hold('later', NOW + 1)],
      ['expired', hold('expired', NOW - DAY)],
      ['just-expired', hold('just-expired', NOW)],
      ['someone-else', hold('someone-else', null)],
    ]),
  });
  const d = decisions(p);
  assert.deepEqual(d.forever, { kind: 'held', hold: hold('forever', null) });
  assert.equal(d.later?.kind, 'held');
  assert.equal(d.expired?.kind, 'upgrade');
  assert.equal(d['just-expired']?.kind, 'upgrade');
  assert.equal(d.free?.kind, 'upgrade');
});

test('deploying: a running attempt of any version, which also takes a parallel slot', () => {
  const p = plan({
    policy: { maxParallel: 2 },
    instances: [inst('a'), inst('b'), inst('c')],
    attempts: [attempt('a', '1.4.9', 'running', null), attempt('a', '1.5.0', 'failed', NOW - HOUR)],
    machines: placed({ a: ['m1'] }),
  });
  assert.deepEqual(decisions(p).a, { kind: 'deploying', version: '1.4.9' });
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['b']);
  assert.deepEqual(decisions(p).c, { kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null });
});

test('halts: an active halt stops its version of its app only; a lifted one does not', () => {
  const active = halt({ id: 7 });
  const p = plan({
    instances: [inst('shop-1'), inst('shop-2', { target: { channel: 'beta' } }), inst('blog-1', { app: 'blog' })],
    halts: [halt({ id: 3, liftedAt: NOW - 2 * DAY, liftedBy: 'bob', haltedAt: NOW - 3 * DAY }), active],
    attempts: [attempt('shop-9', '1.5.0', 'failed', NOW - HOUR)],
  });
  assert.deepEqual(decisions(p)['shop-1'], { kind: 'halted', version: '1.5.0', halt: active, failures: 1, attempted: 1 });
  assert.equal(kindOf(p, 'shop-2'), 'upgrade');
  assert.equal(kindOf(p, 'blog-1'), 'upgrade');
  assert.deepEqual(p.halts, [], 'no new halt while one is active');

  const lifted = plan({ instances: [inst('shop-1')], halts: [halt({ liftedAt: NOW - HOUR, liftedBy: 'bob' })] });
  assert.equal(kindOf(lifted, 'shop-1'), 'upgrade');
});

/** `n` instances that failed at 1.5.0 and `ok` that succeeded, plus one instance still due. */
function budgetCase(failed: number, ok: number, policy: { maxFailures: number; maxShare: number; minAttempts: number }, extra: Attempt[] = []): FleetPlan {
  const attempts: Attempt[] = [];
  for (let i = 0; i < failed; i += 1) attempts.push(attempt(`f${i}`, '1.5.0', 'failed', NOW - 2 * HOUR));
  for (let i = 0; i < ok; i += 1) attempts.push(attempt(`s${i}`, '1.5.0', 'succeeded', NOW - 2 * HOUR));
  return plan({ policy: { failureBudget: policy }, instances: [inst('next')], attempts: [...attempts, ...extra] });
}

test('failure budget by count: more than maxFailures halts', () => {
  const budget = { maxFailures: 2, maxShare: 1, minAttempts: 1 };
  assert.equal(kindOf(budgetCase(2, 0, budget), 'next'), 'upgrade');
  const p = budgetCase(3, 2, budget);
  assert.deepEqual(decisions(p).next, { kind: 'halted', version: '1.5.0', halt: null, failures: 3, attempted: 5 });
  assert.deepEqual(p.halts, [{ app: 'shop', version: '1.5.0', failures: 3, attempted: 5, reason: '3 of 5 upgrades of shop to 1.5.0 failed (budget: more than 2 or 100 %)' }]);
});

test('failure budget by share, once minAttempts tried', () => {
  const budget = { maxFailures: 100, maxShare: 0.25, minAttempts: 4 };
  // 1 of 3: a third, but fewer than 4 tried.
  assert.equal(kindOf(budgetCase(1, 2, budget), 'next'), 'upgrade');
  // 1 of 4: exactly 25 %, not more.
  assert.equal(kindOf(budgetCase(1, 3, budget), 'next'), 'upgrade');
  // 2 of 5: 40 %.
  const p = budgetCase(2, 3, budget);
  assert.equal(kindOf(p, 'next'), 'halted');
  assert.equal(p.halts[0]?.reason, '2 of 5 upgrades of shop to 1.5.0 failed (budget: more than 100 or 25 %)');
});

test('failure budget counts instances, not attempts; a later success clears a failure; running and old attempts do not count', () => {
  const budget = { maxFailures: 1, maxShare: 1, minAttempts: 1 };
  const repeated = [attempt('f0', '1.5.0', 'failed', NOW - 3 * HOUR), attempt('f0', '1.5.0', 'failed', NOW - HOUR)];
  assert.equal(kindOf(budgetCase(1, 0, budget, repeated), 'next'), 'upgrade');
  const recovered = [attempt('r', '1.5.0', 'failed', NOW - 3 * HOUR), attempt('r', '1.5.0', 'succeeded', NOW - HOUR)];
  const p = budgetCase(1, 0, budget, recovered);
  assert.equal(kindOf(p, 'next'), 'upgrade');
  const relapsed = [attempt('r', '1.5.0', 'succeeded', NOW - 3 * HOUR), attempt('r', '1.5.0', 'failed', NOW - HOUR)];
  assert.equal(kindOf(budgetCase(1, 0, budget, relapsed), 'next'), 'halted');
  const running = [attempt('r', '1.5.0', 'running', null)];
  assert.equal(kindOf(budgetCase(1, 0, budget, running), 'next'), 'upgrade');
  const old = [attempt('o', '1.5.0', 'failed', NOW - 31 * DAY)];
  assert.equal(kindOf(budgetCase(1, 0, budget, old), 'next'), 'upgrade');
  const otherApp = [attempt('b', '1.5.0', 'failed', NOW - HOUR, { app: 'blog' })];
  assert.equal(kindOf(budgetCase(1, 0, budget, otherApp), 'next'), 'upgrade');
});

test('a lifted halt restarts the failure count', () => {
  const budget = { maxFailures: 2, maxShare: 1, minAttempts: 1 };
  const failures = [0, 1, 2].map((i) => attempt(`f${i}`, '1.5.0', 'failed', NOW - 3 * HOUR));
  const lifted = halt({ liftedAt: NOW - 2 * HOUR, liftedBy: 'bob', liftReason: 'fixed the database' });
  const p = plan({ policy: { failureBudget: budget }, instances: [inst('next')], attempts: failures, halts: [lifted] });
  assert.equal(kindOf(p, 'next'), 'upgrade');
  assert.deepEqual(p.halts, []);
  const again = [...failures, ...[3, 4, 5].map((i) => attempt(`f${i}`, '1.5.0', 'failed', NOW - HOUR))];
  const q = plan({ policy: { failureBudget: budget }, instances: [inst('next')], attempts: again, halts: [lifted] });
  assert.deepEqual(decisions(q).next, { kind: 'halted', version: '1.5.0', halt: null, failures: 3, attempted: 3 });
  assert.equal(q.halts.length, 1);
});

test('new halts: one per version, sorted, also for versions nobody targets now', () => {
  const budget = { maxFailures: 0, maxShare: 1, minAttempts: 1 };
  const p = plan({
    policy: { failureBudget: budget },
    instances: [inst('a'), inst('b'), inst('c', { app: 'blog' })],
    attempts: [
      attempt('x', '1.5.0', 'failed', NOW - HOUR, { app: 'blog' }),
      attempt('y', '1.5.0', 'failed', NOW - HOUR),
      attempt('z', '1.2.0', 'failed', NOW - HOUR),
    ],
  });
  assert.deepEqual(p.halts.map((h) => `${h.app}@${h.version}`), ['blog@1.5.0', 'shop@1.2.0', 'shop@1.5.0']);
  assert.deepEqual(p.counts, { halted: 3 });
});

test('retries: backoff doubles up to the cap, then the scheduler gives up', () => {
  const policy = { retry: { maxAttempts: 4, backoffMs: 10 * MIN, maxBackoffMs: 30 * MIN } };
  const failedAt = (n: number, last: number): Attempt[] => Array.from({ length: n }, (_, i) => attempt('a', '1.5.0', 'failed', last - (n - 1 - i) * HOUR));
  const cases: Array<[number, number, Decision['kind'], number?]> = [
    // [failures, minutes since the last one, decision, retryAt minutes after it]
    [1, 5, 'retry-wait', 10],
    [1, 10, 'upgrade'],
    [2, 15, 'retry-wait', 20],
    [2, 20, 'upgrade'],
    [3, 29, 'retry-wait', 30], // 40 min, capped at 30
    [3, 30, 'upgrade'],
    [4, 600, 'gave-up'],
  ];
  for (const [n, ago, kind, wait] of cases) {
    const last = NOW - ago * MIN;
    const p = plan({ policy, instances: [inst('a')], attempts: failedAt(n, last) });
    const d = decisions(p).a;
    assert.equal(d?.kind, kind, `${n} failures, ${ago} min ago`);
    if (d?.kind === 'retry-wait') {
      assert.deepEqual(d, { kind: 'retry-wait', version: '1.5.0', attempts: n, retryAt: last + (wait ?? 0) * MIN, lastError: 'health check failed: 503', lastFailedAt: last });
    }
    if (d?.kind === 'gave-up') assert.deepEqual(d, { kind: 'gave-up', version: '1.5.0', attempts: n, lastError: 'health check failed: 503', lastFailedAt: last });
  }
});

test('retries count only the latest run of failures at the target version', () => {
  const policy = { retry: { maxAttempts: 2, backoffMs: 0, maxBackoffMs: 0 } };
  const fail = (t: number, version = '1.5.0'): Attempt => attempt('a', version, 'failed', NOW - t * HOUR);
  const run = (attempts: Attempt[], halts: HaltRecord[] = []): Decision['kind'] | undefined => kindOf(plan({ policy, instances: [inst('a')], attempts, halts }), 'a');
  assert.equal(run([fail(3), fail(1)]), 'gave-up');
  // The input order does not matter.
  assert.equal(run([fail(1), fail(3)]), 'gave-up');
  assert.equal(run([fail(3), attempt('a', '1.5.0', 'succeeded', NOW - 2 * HOUR), fail(1)]), 'upgrade');
  assert.equal(run([fail(3), fail(2, '1.4.9'), fail(1)]), 'upgrade');
  assert.equal(run([fail(3), fail(1, '1.4.9')]), 'upgrade');
  // Other instances' failures are theirs.
  assert.equal(run([fail(3), { ...fail(1), instance: 'b' }]), 'upgrade');
  // Failures before the lookback, or before the version's last lifted halt, are forgotten.
  assert.equal(run([fail(31 * 24), fail(1)]), 'upgrade');
  assert.equal(run([fail(3), fail(2)], [halt({ liftedAt: NOW - 150 * MIN, liftedBy: 'bob' })]), 'upgrade');
  assert.equal(run([fail(3), fail(1)], [halt({ liftedAt: NOW - 150 * MIN, liftedBy: 'bob' })]), 'upgrade');
});

const WAVES = [
  { environment: 'test', minSuccesses: 1, minShare: 0 },
  { environment: 'staging', minSuccesses: 2, minShare: 0 },
  { environment: 'production', minSuccesses: 1, minShare: 0 },
];

test('waves: a later wave waits until the earlier ones have enough successes', () => {
  const fleet = (testVersion: string | null, stagingVersions: Array<string | null>): InstanceRecord[] => [
    inst('t1', { environment: 'test', currentVersion: testVersion }),
    ...stagingVersions.map((v, i) => inst(`s${i}`, { environment: 'staging', currentVersion: v })),
    inst('p1'),
  ];
  let p = plan({ policy: { waves: WAVES }, instances: fleet('1.4.3', ['1.4.3', '1.4.3']) });
  assert.deepEqual(decisions(p).p1, { kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 0, need: 1 });
  assert.deepEqual(decisions(p).s0, { kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 0, need: 1 });
  assert.equal(kindOf(p, 't1'), 'upgrade');
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['t1']);

  p = plan({ policy: { waves: WAVES }, instances: fleet('1.5.0', ['1.5.0', '1.4.3']) });
  assert.deepEqual(decisions(p).p1, { kind: 'waiting-wave', version: '1.5.0', environment: 'staging', have: 1, need: 2 });
  assert.equal(kindOf(p, 's1'), 'upgrade');

  // minSuccesses is capped at how many instances of the wave target the version.
  p = plan({ policy: { waves: WAVES }, instances: fleet('1.5.0', ['1.5.0']) });
  assert.equal(kindOf(p, 'p1'), 'upgrade');

  // A succeeded attempt counts although the instance has since moved away (rolled back).
  p = plan({ policy: { waves: WAVES }, instances: fleet('1.4.3', ['1.5.0']), attempts: [attempt('t1', '1.5.0', 'succeeded', NOW - DAY)] });
  assert.equal(kindOf(p, 'p1'), 'upgrade');
  assert.equal(kindOf(p, 't1'), 'upgrade');
  // …but not one outside the lookback, nor a failed one.
  p = plan({ policy: { waves: WAVES }, instances: fleet('1.4.3', ['1.5.0']), attempts: [attempt('t1', '1.5.0', 'succeeded', NOW - 40 * DAY)] });
  assert.equal(kindOf(p, 'p1'), 'waiting-wave');
});

test('waves: a held instance that has not run the version does not hold up the next wave', () => {
  const instances = [inst('s0', { environment: 'staging', currentVersion: '1.5.0' }), inst('s1', { environment: 'staging' }), inst('t1', { environment: 'test', currentVersion: '1.5.0' }), inst('p1')];
  // staging needs 2 successes, capped at the 2 that target 1.5.0; s1 is held, so only s0 counts.
  let p = plan({ policy: { waves: WAVES }, instances, holds: new Map([['s1', hold('s1', null)]]) });
  assert.equal(kindOf(p, 's1'), 'held');
  assert.equal(kindOf(p, 'p1'), 'upgrade');
  // Once the hold has expired, s1 counts again and production waits for it.
  p = plan({ policy: { waves: WAVES }, instances, holds: new Map([['s1', hold('s1', NOW - 1)]]) });
  assert.deepEqual(decisions(p).p1, { kind: 'waiting-wave', version: '1.5.0', environment: 'staging', have: 1, need: 2 });
});

test('waves: share of the targeting instances, rounded up', () => {
  const waves = [{ environment: 'test', minSuccesses: 0, minShare: 0.3 }];
  const tests = (done: number, total: number): InstanceRecord[] =>
    Array.from({ length: total }, (_, i) => inst(`t${i}`, { environment: 'test', currentVersion: i < done ? '1.5.0' : '1.4.3' }));
  const p = plan({ policy: { waves }, instances: [...tests(3, 10), inst('p1')] });
  assert.equal(kindOf(p, 'p1'), 'upgrade', '30 % of 10 is 3, not 4');
  const q = plan({ policy: { waves }, instances: [...tests(1, 4), inst('p1')] });
  assert.deepEqual(decisions(q).p1, { kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 1, need: 2 });
  const both = [{ environment: 'test', minSuccesses: 1, minShare: 0.5 }];
  const r = plan({ policy: { waves: both }, instances: [...tests(1, 4), inst('p1')] });
  assert.deepEqual(decisions(r).p1, { kind: 'waiting-wave', version: '1.5.0', environment: 'test', have: 1, need: 2 });
});

test('waves: vacuous waves, other versions and apps, unlisted environments last', () => {
  const waves = WAVES;
  // Test instances target another version (or app), and staging has none: nothing blocks production.
  let p = plan({
    policy: { waves },
    instances: [inst('t1', { environment: 'test', target: { channel: 'beta' } }), inst('t2', { environment: 'test', app: 'blog', currentVersion: null }), inst('p1')],
  });
  assert.equal(kindOf(p, 'p1'), 'upgrade');
  // An unlisted environment waits for every listed wave, production included; unlisted ones do not wait for each other.
  p = plan({ policy: { waves }, instances: [inst('p1'), inst('demo1', { environment: 'demo' }), inst('qa1', { environment: 'qa' })] });
  assert.deepEqual(decisions(p).demo1, { kind: 'waiting-wave', version: '1.5.0', environment: 'production', have: 0, need: 1 });
  assert.equal(kindOf(p, 'qa1'), 'waiting-wave');
  assert.deepEqual(p.entries.map((e) => e.wave), [2, 3, 3]);
  p = plan({ policy: { waves }, instances: [inst('demo1', { environment: 'demo' }), inst('qa1', { environment: 'qa' })] });
  assert.equal(p.counts.upgrade, 2);
  // With no waves at all everyone is in wave 0.
  p = plan({ policy: { waves: [] }, instances: [inst('t1', { environment: 'test' }), inst('p1')] });
  assert.deepEqual(p.entries.map((e) => [e.wave, e.decision.kind]), [[0, 'upgrade'], [0, 'upgrade']]);
});

/** Plans one instance with `window` at `now` and returns its entry. */
function windowed(window: string, iso: string, policy: TestInput['policy'] = {}): FleetPlan['entries'][number] {
  const entry = plan({ now: at(iso), policy, instances: [inst('w', { window })] }).entries[0];
  assert.ok(entry);
  return entry;
}

test('windows: closed → waiting-window with the next opening; open → upgrade', () => {
  const e = windowed('daily 1:00-4:00 europe/london', '2026-11-22T19:48:00Z');
  assert.deepEqual(e.decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-23T01:00:00Z') });
  assert.equal(e.window, 'daily 01:00-04:00 Europe/London');
  assert.equal(e.zone, 'Europe/London');
  assert.equal(windowed('daily 01:00-04:00 Europe/London', '2026-11-23T01:00:00Z').decision.kind, 'upgrade');
  assert.equal(windowed('daily 01:00-04:00 Europe/London', '2026-11-23T04:00:00Z').decision.kind, 'waiting-window');
  const never = windowed('never', '2026-11-22T19:48:00Z');
  assert.deepEqual(never.decision, { kind: 'waiting-window', version: '1.5.0', opensAt: null });
  assert.equal(never.zone, 'UTC');
  assert.equal(windowed('anytime', '2026-11-22T19:48:00Z').zone, 'UTC');
});

test('windows: DST in London (spring forward 2026-03-29, fall back 2026-10-25)', () => {
  const w = 'daily 01:00-04:00 Europe/London';
  // Spring forward: 01:00 GMT does not exist; the window runs 02:00–04:00 BST = 01:00–03:00 UTC.
  assert.deepEqual(windowed(w, '2026-03-29T00:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-03-29T01:00:00Z') });
  assert.equal(windowed(w, '2026-03-29T01:00:00Z').decision.kind, 'upgrade');
  assert.equal(windowed(w, '2026-03-29T02:59:00Z').decision.kind, 'upgrade');
  assert.deepEqual(windowed(w, '2026-03-29T03:00:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-03-30T00:00:00Z') });
  // Fall back: 01:00 BST (00:00 UTC) to 04:00 GMT (04:00 UTC), four real hours.
  assert.deepEqual(windowed(w, '2026-10-24T23:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-10-25T00:00:00Z') });
  assert.equal(windowed(w, '2026-10-25T00:00:00Z').decision.kind, 'upgrade');
  assert.equal(windowed(w, '2026-10-25T03:30:00Z').decision.kind, 'upgrade');
  assert.deepEqual(windowed(w, '2026-10-25T04:00:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-10-26T01:00:00Z') });
});

test('windows: DST in New York (2026-03-08, 2026-11-01)', () => {
  const w = 'daily 01:00-03:00 America/New_York';
  assert.deepEqual(windowed(w, '2026-03-08T05:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-03-08T06:00:00Z') });
  assert.equal(windowed(w, '2026-03-08T06:30:00Z').decision.kind, 'upgrade');
  // 03:00 EDT is 07:00 UTC: one real hour that night.
  assert.equal(windowed(w, '2026-03-08T07:00:00Z').decision.kind, 'waiting-window');
  assert.deepEqual(windowed(w, '2026-11-01T04:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-01T05:00:00Z') });
  assert.equal(windowed(w, '2026-11-01T07:30:00Z').decision.kind, 'upgrade');
  assert.equal(windowed(w, '2026-11-01T08:00:00Z').decision.kind, 'waiting-window');
});

test('windows across midnight', () => {
  const w = 'daily 22:00-02:00 Asia/Tokyo';
  assert.equal(windowed(w, '2026-11-22T14:00:00Z').decision.kind, 'upgrade'); // 23:00 JST
  assert.equal(windowed(w, '2026-11-22T16:59:00Z').decision.kind, 'upgrade'); // 01:59 JST
  assert.deepEqual(windowed(w, '2026-11-22T17:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-11-23T13:00:00Z') });
  // Friday night into Saturday only.
  const fri = 'fri 23:00-01:00 UTC';
  assert.equal(windowed(fri, '2026-11-28T00:30:00Z').decision.kind, 'upgrade'); // Saturday 00:30
  assert.deepEqual(windowed(fri, '2026-11-29T00:30:00Z').decision, { kind: 'waiting-window', version: '1.5.0', opensAt: at('2026-12-04T23:00:00Z') });
});

test('windows in many zones: open exactly when the local clock is between 01:00 and 04:00', () => {
  const zones = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'America/Sao_Paulo', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tokyo', 'Australia/Sydney', 'Australia/Adelaide', 'Pacific/Auckland', 'Pacific/Chatham', 'Pacific/Honolulu', 'Africa/Cairo'];
  const instances = zones.map((z, i) => inst(`i${i}`, { window: `daily 01:00-04:00 ${z}` }));
  const hour = (ms: number, zone: string): number => {
    const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
    return Number(parts.find((p) => p.type === 'hour')?.value) + Number(parts.find((p) => p.type === 'minute')?.value) / 60;
  };
  for (let t = at('2026-01-01T00:00:00Z'); t < at('2026-01-03T00:00:00Z'); t += 15 * MIN) {
    const p = plan({ now: t, policy: { maxParallel: 100, maxParallelPerMachine: 100 }, instances });
    p.entries.forEach((e, i) => {
      const zone = zones[i] ?? 'UTC';
      const open = hour(t, zone) >= 1 && hour(t, zone) < 4;
      assert.equal(e.decision.kind, open ? 'upgrade' : 'waiting-window', `${zone} at ${new Date(t).toISOString()}`);
      assert.equal(e.zone, zone);
    });
  }
});

test('windows: the instance’s own, else its environment’s, else the default', () => {
  const policy = { windows: { test: 'daily 09:00-10:00 UTC', constructor: 'never' }, defaultWindow: 'weekends 00:00-06:00 Asia/Tokyo' };
  const p = plan({
    policy,
    instances: [
      inst('own', { environment: 'test', window: 'anytime' }),
      inst('env', { environment: 'test' }),
      inst('default', { environment: 'qa' }),
      inst('proto', { environment: 'constructor' }),
      inst('proto2', { environment: 'tostring' }),
    ],
  });
  assert.deepEqual(p.entries.map((e) => [e.instance, e.window, e.zone]), [
    ['own', 'anytime', 'UTC'],
    ['env', 'daily 09:00-10:00 UTC', 'UTC'],
    ['default', 'weekends 00:00-06:00 Asia/Tokyo', 'Asia/Tokyo'],
    ['proto', 'never', 'UTC'],
    ['proto2', 'weekends 00:00-06:00 Asia/Tokyo', 'Asia/Tokyo'],
  ]);
  // A stored window that no longer parses is never open, and does not break the plan.
  const broken = plan({ instances: [inst('bad', { window: 'daily 01:00-02:00 Mars/Olympus' }), inst('ok')] });
  assert.deepEqual(broken.entries.map((e) => [e.decision.kind, e.window]), [['waiting-window', 'daily 01:00-02:00 Mars/Olympus'], ['upgrade', 'anytime']]);
});

test('capacity: fleet-wide and per machine, running deployments included', () => {
  const p = plan({
    policy: { maxParallel: 3, maxParallelPerMachine: 2 },
    instances: [inst('a1'), inst('a2'), inst('a3'), inst('b1'), inst('c1')],
    machines: placed({ a1: ['a'], a2: ['a'], a3: ['a'], b1: ['b'], c1: ['c'] }),
  });
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['a1', 'a2', 'b1']);
  assert.deepEqual(decisions(p).a3, { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'a' });
  assert.deepEqual(decisions(p).c1, { kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null });
  assert.deepEqual(p.counts, { upgrade: 3, capacity: 2 });

  // A deployment running on machine a (of an instance in the fleet) takes one of its slots;
  // one of an instance not in the list counts fleet-wide only.
  const q = plan({
    policy: { maxParallel: 4, maxParallelPerMachine: 2 },
    instances: [inst('a0', { currentVersion: '1.5.0' }), inst('a1'), inst('a2'), inst('b1')],
    attempts: [attempt('a0', '1.5.0', 'running', null), attempt('gone', '1.5.0', 'running', null)],
    machines: placed({ a0: ['a'], a1: ['a'], a2: ['a'], b1: ['b'], gone: ['b'] }),
  });
  assert.deepEqual(q.upgrades.map((e) => e.instance), ['a1', 'b1']);
  assert.deepEqual(decisions(q).a2, { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'a' });
  const r = plan({ policy: { maxParallel: 2, maxParallelPerMachine: 2 }, instances: [inst('b1')], attempts: [attempt('x', '1.5.0', 'running', null), attempt('y', '1.5.0', 'running', null)] });
  assert.deepEqual(decisions(r).b1, { kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null });
});

test('capacity: an upgrade needs room on every machine of its instance, and takes it on each', () => {
  const p = plan({
    policy: { maxParallelPerMachine: 1 },
    instances: [inst('ab'), inst('b-only'), inst('c-only'), inst('dc'), inst('ea'), inst('f')],
    // Given in any order: the planner checks the machines in name order, so `dc` names c.
    machines: placed({ ab: ['b', 'a'], 'b-only': ['b'], 'c-only': ['c'], dc: ['d', 'c'], ea: ['e', 'a', 'e'], f: ['f'] }),
  });
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['ab', 'c-only', 'f']);
  const d = decisions(p);
  assert.deepEqual(d['b-only'], { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'b' });
  assert.deepEqual(d.dc, { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'c' });
  assert.deepEqual(d.ea, { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: 'a' });

  // A running upgrade of an instance on a and b fills both; d, untouched, still has room.
  const q = plan({
    policy: { maxParallelPerMachine: 1 },
    instances: [inst('x', { currentVersion: '1.5.0' }), inst('on-a'), inst('on-b'), inst('on-d')],
    attempts: [attempt('x', '1.5.0', 'running', null)],
    machines: placed({ x: ['a', 'b'], 'on-a': ['a'], 'on-b': ['b'], 'on-d': ['d'] }),
  });
  assert.deepEqual(q.upgrades.map((e) => e.instance), ['on-d']);
  assert.deepEqual([decisions(q)['on-a'], decisions(q)['on-b']].map((x) => x?.kind === 'capacity' && x.machine), ['a', 'b']);
});

test('capacity: instances without machines share one budget, (local)', () => {
  const p = plan({
    policy: { maxParallelPerMachine: 2 },
    instances: [inst('a'), inst('b'), inst('c'), inst('placed')],
    // `b` has an empty list (a placement whose selector matches nothing yet): local too.
    machines: placed({ b: [], placed: ['web-1'] }),
  });
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['a', 'b', 'placed']);
  assert.deepEqual(decisions(p).c, { kind: 'capacity', version: '1.5.0', limit: 'machine', machine: LOCAL_MACHINE });
  assert.equal(LOCAL_MACHINE, '(local)');
});

test('capacity: admitted by wave, then the window closing soonest, then name', () => {
  const waves = [{ environment: 'test', minSuccesses: 0, minShare: 0 }, { environment: 'production', minSuccesses: 0, minShare: 0 }];
  const now = '2026-11-23T02:00:00Z';
  const p = plan({
    now: at(now),
    policy: { waves, maxParallel: 5, maxParallelPerMachine: 10 },
    instances: [
      inst('p-anytime'),
      inst('p-late', { window: 'daily 01:00-05:00 UTC' }),
      inst('p-b-soon', { window: 'daily 01:00-03:00 UTC' }),
      inst('p-a-soon', { window: 'daily 00:00-03:00 UTC' }),
      inst('t-z', { environment: 'test' }),
      inst('t-y', { environment: 'test' }),
    ],
  });
  assert.deepEqual(p.upgrades.map((e) => e.instance), ['t-y', 't-z', 'p-a-soon', 'p-b-soon', 'p-late']);
  assert.deepEqual(decisions(p)['p-anytime'], { kind: 'capacity', version: '1.5.0', limit: 'fleet', machine: null });
  assert.ok(p.upgrades.every((e) => e.decision.kind === 'upgrade' && p.entries.includes(e)));
});

test('pending app config: with applyAppConfig an instance on target is due for the same release, through the same gates; without it, on target', () => {
  const instances = [inst('pending', { currentVersion: '1.5.0' }), inst('held', { currentVersion: '1.5.0' }), inst('settled', { currentVersion: '1.5.0' })];
  const pendingConfig = new Set(['pending', 'held']);
  const holds = new Map([['held', hold('held', null)]]);
  const off = plan({ instances, pendingConfig, holds });
  assert.deepEqual(decisions(off), {
    pending: { kind: 'on-target', version: '1.5.0' },
    held: { kind: 'on-target', version: '1.5.0' },
    settled: { kind: 'on-target', version: '1.5.0' },
  });
  const on = plan({ instances, pendingConfig, holds, policy: { applyAppConfig: true } });
  assert.deepEqual(decisions(on).pending, { kind: 'upgrade', from: '1.5.0', to: '1.5.0' });
  assert.equal(kindOf(on, 'held'), 'held', 'a hold keeps its config too');
  assert.deepEqual(decisions(on).settled, { kind: 'on-target', version: '1.5.0' });
  // Outside its window it waits like an upgrade.
  const closed = plan({ instances: [inst('pending', { currentVersion: '1.5.0', window: 'Sat 02:00-04:00 UTC' })], pendingConfig, policy: { applyAppConfig: true } });
  assert.equal(kindOf(closed, 'pending'), 'waiting-window');
  assert.match(explain(on.entries.find((e) => e.instance === 'pending')!, NOW), /deploying 1\.5\.0 again with its pending app config/);
});
