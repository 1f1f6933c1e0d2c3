import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { ManualClock } from '../shared/index.ts';
import type { Actor, Logger } from '../shared/index.ts';
import { createSqliteStore } from '../store/index.ts';
import type { InstanceRecord } from '../store/index.ts';
import { createDeployer } from '../deploy/index.ts';
import { FakeRuntime } from '../testing/index.ts';
import { readFleetPolicy, updateFleetPolicy } from '../control/index.ts';
import { FLEET_POLICY_KEY, planFleet } from '../fleet/index.ts';
import { loadPlanInput } from './plan-input.ts';
import { createScheduler } from './scheduler.ts';

const ADMIN: Actor = { actor: 'admin', role: 'admin', requestId: null };
const NOW = Date.parse('2026-11-23T12:00:00Z');

/** The fleet policy exactly as a version before issue 18 stored it: every field, the limit per host. */
const OLD_POLICY_JSON = JSON.stringify({
  enabled: true,
  waves: [{ environment: 'test', minSuccesses: 1, minShare: 0 }],
  windows: {},
  defaultWindow: 'anytime',
  maxParallel: 10,
  maxParallelPerHost: 1,
  failureBudget: { maxFailures: 2, maxShare: 0.25, minAttempts: 4 },
  retry: { maxAttempts: 3, backoffMs: 600_000, maxBackoffMs: 21_600_000 },
  lookbackMs: 2_592_000_000,
});

function instance(name: string, machines: string[]): InstanceRecord {
  return {
    name,
    app: 'shop',
    hosts: [`${name}.test`],
    environment: 'production',
    tenant: null,
    labels: {},
    target: { version: '1.1.0' },
    window: null,
    placement: { machines },
    currentVersion: '1.0.0',
    activeColor: 'blue',
    slots: { blue: null, green: null },
    createdAt: 1,
    updatedAt: 1,
  };
}

test('a policy stored by an earlier version (maxParallelPerHost) keeps working, warns once at start, and is stored under the new name when set again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-old-policy-'));
  const file = join(dir, 'cutover.db');
  try {
    // The schema as the store makes it, then the settings row written as the earlier version wrote it.
    const fresh = createSqliteStore(file);
    for (const [name, machines] of [['a', ['web-1']], ['b', ['web-1', 'web-2']], ['c', ['web-3']]] as const) await fresh.insertInstance(instance(name, [...machines]));
    await fresh.close();
    const db = new DatabaseSync(file);
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(FLEET_POLICY_KEY, OLD_POLICY_JSON);
    db.close();

    const store = createSqliteStore(file);
    try {
      const read = await readFleetPolicy(store);
      assert.equal(read.policy.maxParallelPerMachine, 1);
      assert.equal(Object.hasOwn(read.policy, 'maxParallelPerHost'), false);
      assert.equal(read.warnings.length, 1);
      assert.match(read.warnings[0]!, /maxParallelPerHost/);

      // The planner applies it per machine: a and b share web-1, so b waits; c has web-3 to itself.
      const plan = planFleet(await loadPlanInput(store, read.policy, NOW));
      assert.deepEqual(plan.upgrades.map((u) => u.instance), ['a', 'c']);
      assert.deepEqual(plan.entries.find((e) => e.instance === 'b')?.decision, { kind: 'capacity', version: '1.1.0', limit: 'machine', machine: 'web-1' });

      // The server says so once, as it starts (not at every tick).
      const warned: string[] = [];
      const log: Logger = { debug() {}, info() {}, warn: (_obj, msg) => void warned.push(msg), error() {} };
      const clock = new ManualClock(NOW);
      const runtime = new FakeRuntime();
      const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
      const scheduler = createScheduler({ store, deployer, clock, log, intervalMs: 3_600_000, owner: 'test' });
      scheduler.start();
      scheduler.start();
      await scheduler.plan();
      await scheduler.stop();
      assert.equal(warned.length, 1, warned.join('\n'));
      assert.match(warned[0]!, /stored fleet policy.*maxParallelPerHost.*maxParallelPerMachine/);

      // Any change stores the whole policy under the new names; the warning is gone.
      const changed = await updateFleetPolicy({ store, clock }, { policy: { maxParallel: 7 } }, ADMIN);
      assert.deepEqual(changed.warnings, []);
      const raw = (await store.getSetting(FLEET_POLICY_KEY)) as Record<string, unknown>;
      assert.equal(raw.maxParallelPerMachine, 1);
      assert.equal(Object.hasOwn(raw, 'maxParallelPerHost'), false);
      assert.deepEqual((await readFleetPolicy(store)).warnings, []);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stored policy with both names and different values is reported as invalid, naming both', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-old-policy-'));
  const store = createSqliteStore(join(dir, 'cutover.db'));
  try {
    await store.putSetting(FLEET_POLICY_KEY, { maxParallelPerHost: 1, maxParallelPerMachine: 3 }, { at: NOW, actor: 'admin', action: 'fleet.policy', subject: 'fleet' });
    await assert.rejects(readFleetPolicy(store), (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && /maxParallelPerHost/.test(e.message) && /maxParallelPerMachine/.test(e.message));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
