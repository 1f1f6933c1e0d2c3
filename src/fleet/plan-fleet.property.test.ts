import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ChannelPointer, HaltRecord, HoldRecord, InstanceRecord } from '../store/index.ts';
import { LOCAL_MACHINE, fleetPolicySchema, parseWindow, pointerIndex } from './index.ts';
import type { Attempt, FleetPlan, PlanInput } from './index.ts';
import { planFleet } from './plan-fleet.ts';
import { oracleIsOpen } from './window-oracle.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE = Date.parse('2026-10-24T22:00:00Z');

const APPS = ['shop', 'blog'];
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '2.0.0'];
const CHANNELS = ['stable', 'beta', 'alpha'];
const ENVIRONMENTS = ['test', 'staging', 'production', 'demo'];
const MACHINES = ['m1', 'm2', 'm3', 'm4'];
const WINDOWS = [
  'anytime',
  'never',
  'daily 01:00-04:00 Europe/London',
  'daily 22:00-02:00 Asia/Tokyo',
  'weekdays 01:00-03:00 America/New_York',
  'sat,sun 00:00-06:00 Australia/Sydney; mon 12:00-13:00 UTC',
  'daily 00:30-01:30 Asia/Kathmandu',
];

const instanceArb = fc.record({
  app: fc.constantFrom(...APPS),
  environment: fc.constantFrom(...ENVIRONMENTS),
  // None (local), one, or several machines, in any order.
  machines: fc.shuffledSubarray(MACHINES, { maxLength: 3 }),
  target: fc.oneof(
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constantFrom(...VERSIONS).map((version) => ({ version })) },
    { weight: 4, arbitrary: fc.constantFrom('stable', 'stable', 'beta', 'alpha').map((channel) => ({ channel })) },
  ),
  currentVersion: fc.option(fc.constantFrom(...VERSIONS)),
  window: fc.option(fc.constantFrom(...WINDOWS)),
});

const offset = fc.integer({ min: -3 * DAY, max: 2 * DAY });

function planInput(): fc.Arbitrary<PlanInput> {
  return fc
    .record({
      now: fc.integer({ min: BASE, max: BASE + 2 * DAY }),
      specs: fc.array(instanceArb, { minLength: 5, maxLength: 40 }),
      // alpha never points anywhere; the others mostly do.
      pointers: fc.tuple(...APPS.flatMap((app) => CHANNELS.slice(0, 2).map((channel) => fc.option(fc.constantFrom(...VERSIONS).map((version) => [app, channel, version] as const), { freq: 6 })))),
      holds: fc.array(fc.tuple(fc.nat(40), fc.option(offset)), { maxLength: 6 }),
      halts: fc.array(fc.record({ app: fc.constantFrom(...APPS), version: fc.constantFrom(...VERSIONS), lifted: fc.option(fc.integer({ min: -DAY, max: 0 })) }), { maxLength: 3 }),
      attempts: fc.array(
        fc.record({
          who: fc.nat(40),
          app: fc.constantFrom(...APPS),
          version: fc.constantFrom(...VERSIONS),
          outcome: fc.constantFrom('running', 'succeeded', 'succeeded', 'failed'),
          ago: fc.integer({ min: 0, max: 3 * DAY }),
        }),
        { maxLength: 40 },
      ),
      policy: fc.record({
        waves: fc.subarray(
          [
            { environment: 'test', minSuccesses: 1, minShare: 0.5 },
            { environment: 'staging', minSuccesses: 2, minShare: 0 },
            { environment: 'production', minSuccesses: 1, minShare: 0 },
          ],
          { minLength: 0 },
        ),
        windows: fc.constantFrom({}, { production: 'daily 01:00-04:00 Europe/London' }, { test: 'anytime', staging: 'never' }),
        maxParallel: fc.integer({ min: 1, max: 6 }),
        maxParallelPerMachine: fc.integer({ min: 1, max: 3 }),
        failureBudget: fc.record({ maxFailures: fc.nat(3), maxShare: fc.double({ min: 0, max: 1, noNaN: true }), minAttempts: fc.integer({ min: 1, max: 5 }) }),
        retry: fc.record({ maxAttempts: fc.integer({ min: 1, max: 4 }), backoffMs: fc.nat(4 * HOUR), maxBackoffMs: fc.nat(12 * HOUR) }),
      }),
    })
    .map(({ now, specs, pointers: maybePointers, holds, halts, attempts, policy }) => {
      const pointers = maybePointers.filter((p) => p !== null);
      const instances: InstanceRecord[] = specs.map((s, i) => ({
        name: `i${i}`,
        app: s.app,
        hosts: [],
        environment: s.environment,
        tenant: null,
        labels: {},
        target: s.target as InstanceRecord['target'],
        window: s.window,
        placement: null,
        currentVersion: s.currentVersion,
        activeColor: null,
        slots: { blue: null, green: null },
        createdAt: 0,
        updatedAt: 0,
      }));
      const pointerRecords: ChannelPointer[] = pointers.map(([app, channel, version]) => ({ app, channel, version, movedAt: 0, movedBy: 'ci' }));
      const holdMap = new Map<string, HoldRecord>(holds.map(([who, until]) => [`i${who}`, { instance: `i${who}`, owner: 'ops', reason: 'r', createdAt: 0, until: until === null ? null : now + until }]));
      const haltRecords: HaltRecord[] = halts.map((h, id) => ({
        id,
        app: h.app,
        version: h.version,
        reason: 'r',
        problemId: null,
        haltedAt: now - 2 * DAY,
        haltedBy: 'scheduler',
        liftedBy: h.lifted === null ? null : 'admin',
        liftedAt: h.lifted === null ? null : now + h.lifted,
        liftReason: null,
      }));
      const attemptRecords: Attempt[] = attempts.map((a) => ({
        instance: `i${a.who}`,
        app: a.app,
        version: a.version,
        startedAt: now - a.ago - 60_000,
        finishedAt: a.outcome === 'running' ? null : now - a.ago,
        outcome: a.outcome,
        error: a.outcome === 'failed' ? 'boom' : null,
        scheduled: true,
      }));
      return {
        now,
        policy: fleetPolicySchema.parse(policy),
        instances,
        pointers: pointerIndex(pointerRecords),
        holds: holdMap,
        halts: haltRecords,
        attempts: attemptRecords,
        machines: new Map(specs.map((spec, i) => [`i${i}`, spec.machines])),
      };
    });
}

/** The machines an upgrade of an instance runs on: its own, each once, or the shared local budget. */
const machinesOf = (input: PlanInput, instance: string): string[] => {
  const named = input.machines.get(instance) ?? [];
  return named.length ? [...new Set(named)] : [LOCAL_MACHINE];
};

/** Running deployments, fleet-wide and per machine of the instances in the fleet. */
function running(input: PlanInput): { fleet: number; byMachine: Map<string, number> } {
  const inFleet = new Set(input.instances.map((i) => i.name));
  const byMachine = new Map<string, number>();
  let fleet = 0;
  const seen = new Set<string>();
  for (const a of input.attempts) {
    if (a.outcome !== 'running') continue;
    fleet += 1;
    // One running deployment per instance is what the planner reserves room for, on each of its machines.
    if (inFleet.has(a.instance) && !seen.has(a.instance)) for (const m of machinesOf(input, a.instance)) byMachine.set(m, (byMachine.get(m) ?? 0) + 1);
    seen.add(a.instance);
  }
  return { fleet, byMachine };
}

function snapshot(input: PlanInput): string {
  return JSON.stringify([input, [...input.holds], [...input.pointers].map(([app, m]) => [app, [...m]]), [...input.machines]]);
}

test('every instance gets one entry, in input order; counts add up', () => {
  fc.assert(
    fc.property(planInput(), (input) => {
      const p = planFleet(input);
      assert.deepEqual(p.entries.map((e) => e.instance), input.instances.map((i) => i.name));
      const counts: FleetPlan['counts'] = {};
      for (const e of p.entries) counts[e.decision.kind] = (counts[e.decision.kind] ?? 0) + 1;
      assert.deepEqual(p.counts, counts);
    }),
    { numRuns: 300 },
  );
});

test('upgrades are exactly the upgrade entries, within both parallel limits, and capacity is never wasted', () => {
  fc.assert(
    fc.property(planInput(), (input) => {
      const p = planFleet(input);
      const upgradeEntries = p.entries.filter((e) => e.decision.kind === 'upgrade');
      assert.equal(p.upgrades.length, upgradeEntries.length);
      assert.ok(p.upgrades.every((u) => upgradeEntries.includes(u)));
      const { fleet, byMachine } = running(input);
      const started = new Map<string, number>();
      for (const u of p.upgrades) for (const m of machinesOf(input, u.instance)) started.set(m, (started.get(m) ?? 0) + 1);
      const after = (m: string) => (byMachine.get(m) ?? 0) + (started.get(m) ?? 0);
      // Never more admitted than both limits allow: fleet-wide, and on every machine an upgrade runs on.
      assert.ok(p.upgrades.length === 0 || fleet + p.upgrades.length <= input.policy.maxParallel);
      for (const m of started.keys()) assert.ok(after(m) <= input.policy.maxParallelPerMachine, m);
      // Whoever waits for capacity waits for a limit that is really reached, on a machine of its own.
      for (const e of p.entries) {
        if (e.decision.kind !== 'capacity') continue;
        if (e.decision.limit === 'fleet') {
          assert.equal(e.decision.machine, null);
          assert.ok(fleet + p.upgrades.length >= input.policy.maxParallel);
        } else {
          assert.ok(machinesOf(input, e.instance).includes(e.decision.machine), `${e.instance} is not on ${e.decision.machine}`);
          assert.ok(after(e.decision.machine) >= input.policy.maxParallelPerMachine, e.decision.machine);
        }
      }
      // Upgrades start by wave.
      for (let k = 1; k < p.upgrades.length; k += 1) assert.ok((p.upgrades[k - 1]?.wave ?? 0) <= (p.upgrades[k]?.wave ?? 0));
    }),
    { numRuns: 300 },
  );
});

test('no upgrade for a held, halted, on-target or window-closed instance', () => {
  fc.assert(
    fc.property(planInput(), (input) => {
      const p = planFleet(input);
      const byName = new Map(input.instances.map((i) => [i.name, i]));
      const halted = new Set([...input.halts.filter((h) => h.liftedAt === null), ...p.halts].map((h) => `${h.app}@${h.version}`));
      for (const u of p.upgrades) {
        if (u.decision.kind !== 'upgrade') assert.fail('upgrade entry without an upgrade decision');
        const inst = byName.get(u.instance) as InstanceRecord;
        const hold = input.holds.get(u.instance);
        assert.ok(!hold || (hold.until !== null && hold.until <= input.now), 'held');
        assert.ok(!halted.has(`${inst.app}@${u.decision.to}`), 'halted');
        assert.notEqual(inst.currentVersion, u.decision.to, 'on target');
        assert.ok(oracleIsOpen(parseWindow(u.window), input.now), `window ${u.window} closed`);
      }
    }),
    { numRuns: 150 },
  );
});

test('an instance whose every gate is open, with capacity free, is upgraded', () => {
  fc.assert(
    fc.property(planInput(), fc.constantFrom(...ENVIRONMENTS), fc.shuffledSubarray(MACHINES), (input, environment, machines) => {
      const fresh: InstanceRecord = {
        name: 'fresh',
        app: 'solo',
        hosts: [],
        environment,
        tenant: null,
        labels: {},
        target: { version: '9.9.9' },
        window: 'anytime',
        placement: null,
        currentVersion: '1.0.0',
        activeColor: 'blue',
        slots: { blue: null, green: null },
        createdAt: 0,
        updatedAt: 0,
      };
      const roomy = { ...input.policy, maxParallel: 10_000, maxParallelPerMachine: 1000 };
      const p = planFleet({ ...input, policy: roomy, instances: [...input.instances, fresh], machines: new Map([...input.machines, ['fresh', machines]]) });
      assert.deepEqual(p.entries.at(-1)?.decision, { kind: 'upgrade', from: '1.0.0', to: '9.9.9' });
      // With room for all, nobody waits for capacity.
      assert.equal(p.counts.capacity, undefined);
    }),
    { numRuns: 200 },
  );
});

test('planFleet is deterministic and does not mutate its input', () => {
  fc.assert(
    fc.property(planInput(), (input) => {
      const before = snapshot(input);
      const a = planFleet(input);
      const b = planFleet(input);
      assert.deepEqual(a, b);
      assert.equal(snapshot(input), before);
      // The history's order does not matter either.
      const c = planFleet({ ...input, attempts: [...input.attempts].reverse(), halts: [...input.halts].reverse() });
      assert.deepEqual(c, a);
    }),
    { numRuns: 200 },
  );
});

test('timing diagnostic: 100,000 instances (prints, asserts nothing)', () => {
  const zones = ['Europe/London', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'Asia/Kolkata', 'UTC', 'Europe/Berlin', 'America/Los_Angeles'];
  const now = Date.parse('2026-11-23T02:30:00Z');
  const instances: InstanceRecord[] = [];
  const holds = new Map<string, HoldRecord>();
  const attempts: Attempt[] = [];
  for (let i = 0; i < 100_000; i += 1) {
    const name = `c${i}-${i % 2 ? 'live' : 'test'}`;
    const zone = zones[i % zones.length] ?? 'UTC';
    instances.push({
      name,
      app: i % 10 === 0 ? 'blog' : 'shop',
      hosts: [],
      environment: i % 2 ? 'production' : 'test',
      tenant: `c${i}`,
      labels: {},
      target: i % 7 === 0 ? { version: '1.4.0' } : { channel: i % 3 === 0 ? 'beta' : 'stable' },
      window: i % 5 === 0 ? null : `daily ${String(i % 4).padStart(2, '0')}:00-0${(i % 4) + 3}:00 ${zone}`,
      placement: null,
      currentVersion: i % 4 === 0 ? '1.5.0' : '1.4.3',
      activeColor: 'blue',
      slots: { blue: null, green: null },
      createdAt: 0,
      updatedAt: 0,
    });
    if (i % 50 === 0) holds.set(name, { instance: name, owner: 'ops', reason: 'r', createdAt: 0, until: i % 100 === 0 ? null : now - 1 });
    if (i % 20 === 0) attempts.push({ instance: name, app: 'shop', version: '1.5.0', startedAt: now - 2 * HOUR, finishedAt: now - HOUR, outcome: i % 60 === 0 ? 'failed' : 'succeeded', error: null, scheduled: true });
  }
  const pointers = pointerIndex(
    ['shop', 'blog'].flatMap((app) => [
      { app, channel: 'stable', version: '1.5.0', movedAt: 0, movedBy: 'ci' },
      { app, channel: 'beta', version: '1.6.0', movedAt: 0, movedBy: 'ci' },
    ]),
  );
  const input: PlanInput = {
    now,
    policy: fleetPolicySchema.parse({ maxParallel: 200, failureBudget: { maxFailures: 100_000, maxShare: 1 } }),
    instances,
    pointers,
    holds,
    halts: [],
    attempts,
    // 500 machines; one instance in ten on two of them.
    machines: new Map(instances.map((inst, i) => [inst.name, i % 10 === 0 ? [`m${i % 500}`, `m${(i + 1) % 500}`] : [`m${i % 500}`]])),
  };
  // The first call also pays for JIT and for filling the zones' offset caches.
  const cold = performance.now();
  planFleet(input);
  const first = performance.now() - cold;
  const runs: number[] = [];
  let plan: FleetPlan | undefined;
  for (let r = 0; r < 3; r += 1) {
    const t0 = performance.now();
    plan = planFleet({ ...input, now: now + r * 60_000 });
    runs.push(performance.now() - t0);
  }
  console.log(`planFleet, 100,000 instances: first call ${first.toFixed(0)} ms, then ${runs.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}; ${JSON.stringify(plan?.counts)}`);
});
