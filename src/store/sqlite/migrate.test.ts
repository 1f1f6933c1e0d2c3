import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSqliteStore } from './sqlite-store.ts';

const migration = (name: string) => readFile(new URL(`./migrations/${name}`, import.meta.url), 'utf8');

test('sqlite: a database at 0002 opens with 0003: windows read back null, old deployments filter by actor', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  const file = join(dir, 'cutover.db');
  try {
    // The database as a server before the fleet scheduler left it: 0001 and 0002 applied, with data.
    const raw = new DatabaseSync(file);
    raw.exec('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const name of ['0001_init.sql', '0002_control_plane.sql']) {
      raw.exec(await migration(name));
      raw.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(name, 1);
    }
    const state = {
      currentVersion: '1.0.0',
      activeColor: 'blue',
      slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' }, green: null },
    };
    raw
      .prepare(
        `INSERT INTO instances (name, app, hosts, environment, tenant, labels, target_kind, target_value, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        'shop-live',
        'shop',
        '["shop.test"]',
        'production',
        'acme',
        '{"tier":"gold"}',
        'channel',
        'stable',
        JSON.stringify(state),
        5,
        6,
      );
    const old = {
      id: 'd1',
      instance: 'shop-live',
      kind: 'deploy',
      strategy: 'start-and-flip',
      fromVersion: null,
      toVersion: '1.0.0',
      fromColor: null,
      toColor: 'blue',
      status: 'succeeded',
      steps: [],
      actor: 'alice',
      createdAt: 7,
      updatedAt: 8,
    };
    raw
      .prepare('INSERT INTO deployments (id, instance, status, body, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(old.id, old.instance, old.status, JSON.stringify(old), old.createdAt);
    raw.close();

    const store = createSqliteStore(file);
    try {
      assert.deepEqual(await store.getInstance('shop-live'), {
        name: 'shop-live',
        app: 'shop',
        hosts: ['shop.test'],
        environment: 'production',
        tenant: 'acme',
        labels: { tier: 'gold' },
        target: { channel: 'stable' },
        window: null,
        placement: null,
        ...state,
        createdAt: 5,
        updatedAt: 6,
      });
      assert.deepEqual(
        await store.listDeployments({ actor: 'alice' }),
        [old],
        'the actor column covers rows written before it',
      );
      assert.deepEqual(await store.listDeployments({ actor: 'bob' }), []);
      await store.updateInstanceSpecs([{ name: 'shop-live', window: 'daily 01:00-04:00 UTC' }], 9, []);
      assert.equal((await store.getInstance('shop-live'))!.window, 'daily 01:00-04:00 UTC');
      await store.putSetting(
        'fleet.policy',
        { batchSize: 2 },
        { at: 9, actor: 'admin', action: 'fleet.policy', subject: 'fleet' },
      );
      assert.deepEqual(await store.getSetting('fleet.policy'), { batchSize: 2 });
      assert.equal((await store.auditHead())?.id, 1);
    } finally {
      await store.close();
    }
    const check = new DatabaseSync(file);
    try {
      const names = (
        check.prepare('SELECT name FROM schema_migrations ORDER BY name').all() as { name: string }[]
      ).map((r) => r.name);
      assert.deepEqual(names, readdirSync(new URL('./migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort());
    } finally {
      check.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite: a database at 0007 opens with 0008: an instance on one machine keeps it as its placement; one without stays without', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  const file = join(dir, 'cutover.db');
  try {
    const raw = new DatabaseSync(file);
    raw.exec('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const upTo7 = readdirSync(new URL('./migrations/', import.meta.url)).filter((f) => f.endsWith('.sql') && f < '0008').sort();
    for (const name of upTo7) {
      raw.exec(await migration(name));
      raw.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(name, 1);
    }
    const state = JSON.stringify({ currentVersion: null, activeColor: null, slots: { blue: null, green: null } });
    const insert = raw.prepare(
      `INSERT INTO instances (name, app, hosts, environment, tenant, labels, target_kind, target_value, state, created_at, updated_at, maintenance_window, machine)
       VALUES (?, 'shop', '["x.test"]', 'production', NULL, '{}', NULL, NULL, ?, 1, 1, NULL, ?)`,
    );
    insert.run('placed', state, 'web-1');
    insert.run('unplaced', state, null);
    raw.close();
    const store = createSqliteStore(file);
    try {
      assert.deepEqual((await store.getInstance('placed'))!.placement, { machines: ['web-1'] });
      assert.equal((await store.getInstance('unplaced'))!.placement, null);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
