import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyAuditChain } from '../audit-chain.ts';
import { storeContract } from '../store-contract.ts';
import type { Store } from '../store.ts';
import { createSqliteStore } from './sqlite-store.ts';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  return {
    store: createSqliteStore(join(dir, 'cutover.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

/** Runs `fn` with a fresh database file path in a temp dir, removed afterwards. */
async function withFile(fn: (file: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  try {
    await fn(join(dir, 'cutover.db'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const verify = async (store: Store) =>
  verifyAuditChain(await store.readAuditChain(0, 1000), await store.auditHead());

test('sqlite: data survives reopening the file, migrations run once', () =>
  withFile(async (file) => {
    const first = createSqliteStore(file);
    await first.insertToken({ name: 'admin', hash: 'h', role: 'admin', createdAt: 1, createdBy: 'system' });
    await first.appendAudit({ at: 1, actor: 'admin', action: 'token.create', subject: 'token:admin' });
    await first.close();
    const second = createSqliteStore(file);
    assert.equal(await second.countTokens(), 1);
    assert.equal((await verify(second)).ok, true);
    await second.appendAudit({ at: 2, actor: 'admin', action: 'x', subject: 'y' });
    assert.deepEqual((await verify(second)).checked, 2);
    await second.close();
    const raw = new DatabaseSync(file);
    try {
      const names = (
        raw.prepare('SELECT name FROM schema_migrations ORDER BY name').all() as { name: string }[]
      ).map((r) => r.name);
      assert.deepEqual(names, readdirSync(new URL('./migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort());
    } finally {
      raw.close();
    }
  }));

test('sqlite: a database created by 0001 is migrated, its instances kept and its audit log chained', () =>
  withFile(async (file) => {
    // Build the database exactly as a 0.1 server left it: 0001 applied and recorded, with data.
    const raw = new DatabaseSync(file);
    raw.exec('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    raw.exec(await readFile(new URL('./migrations/0001_init.sql', import.meta.url), 'utf8'));
    raw.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run('0001_init.sql', 1);
    const oldInstance = {
      name: 'shop-live',
      app: 'shop',
      hosts: ['shop.example.test'],
      environment: 'production',
      currentVersion: '1.0.0',
      activeColor: 'blue',
      slots: {
        blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' },
        green: { version: '0.9.0', status: 'warm', deploymentId: 'd0', warmUntil: 500 },
      },
      createdAt: 10,
      updatedAt: 20,
    };
    const fresh = {
      ...oldInstance,
      name: 'shop-test',
      currentVersion: null,
      activeColor: null,
      slots: { blue: null, green: null },
    };
    const insertInstance = raw.prepare(
      'INSERT INTO instances (name, app, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
    );
    for (const i of [oldInstance, fresh])
      insertInstance.run(i.name, i.app, JSON.stringify(i), i.createdAt, i.updatedAt);
    raw
      .prepare('INSERT INTO tokens (hash, name, role, created_at) VALUES (?, ?, ?, ?)')
      .run('h', 'admin', 'admin', 1);
    // Ids 1, 2, 5: a gap the migration closes (the chain has none).
    const insertAudit = raw.prepare(
      'INSERT INTO audit (id, at, actor, action, subject, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    insertAudit.run(1, 100, 'admin', 'release.publish', 'shop@1.0.0', null, '{"digest":"abc"}');
    insertAudit.run(2, 200, 'admin', 'deploy', 'shop-live', 'friday', '{}');
    insertAudit.run(5, 300, 'admin', 'rollback', 'shop-live', null, '{"to":"0.9.0"}');
    raw.close();

    const store = createSqliteStore(file);
    try {
      assert.deepEqual(await store.getInstance('shop-live'), {
        ...oldInstance,
        tenant: null,
        labels: {},
        target: null,
        window: null,
        placement: null,
      });
      assert.deepEqual(
        (await store.listInstances()).map((i) => i.name),
        ['shop-live', 'shop-test'],
      );
      assert.deepEqual(await store.getInstance('shop-test'), {
        ...fresh,
        tenant: null,
        labels: {},
        target: null,
        window: null,
        placement: null,
      });
      assert.deepEqual(await store.findTokenByHash('h'), {
        name: 'admin',
        hash: 'h',
        role: 'admin',
        createdAt: 1,
        createdBy: 'system',
      });
      const chain = await store.readAuditChain(0, 100);
      assert.deepEqual(
        chain.map((e) => [e.id, e.action, e.reason, e.details]),
        [
          [1, 'release.publish', null, { digest: 'abc' }],
          [2, 'deploy', 'friday', {}],
          [3, 'rollback', null, { to: '0.9.0' }],
        ],
      );
      assert.deepEqual(chain[0]!.instance, null);
      const check = await verify(store);
      assert.equal(check.ok, true, check.problem?.message);
      assert.deepEqual(await store.auditHead(), { id: 3, hash: chain[2]!.hash });
      const next = await store.appendAudit({ at: 400, actor: 'admin', action: 'x', subject: 'y' });
      assert.deepEqual([next.id, next.prevHash], [4, chain[2]!.hash]);
      // The new columns work on the migrated table.
      await store.updateInstanceSpecs(
        [{ name: 'shop-live', target: { channel: 'stable' }, tenant: 'acme' }],
        30,
        [],
      );
      assert.deepEqual((await store.getInstance('shop-live'))!.target, { channel: 'stable' });
    } finally {
      await store.close();
    }
    const again = createSqliteStore(file);
    try {
      const check = await verify(again);
      assert.deepEqual(
        [check.ok, check.checked],
        [true, 4],
        'reopening neither re-chains nor breaks the chain',
      );
    } finally {
      await again.close();
    }
  }));

/** A store with five audit entries, and a raw connection to the same file to tamper with it. */
async function tamperCase(fn: (store: Store, raw: DatabaseSync) => Promise<void>) {
  await withFile(async (file) => {
    const store = createSqliteStore(file);
    const raw = new DatabaseSync(file);
    try {
      for (let at = 1; at <= 5; at += 1)
        await store.appendAudit({ at, actor: 'admin', action: 'a', subject: 's', details: { at } });
      assert.equal((await verify(store)).ok, true);
      await fn(store, raw);
    } finally {
      raw.close();
      await store.close();
    }
  });
}

test('sqlite: editing an audit row is detected at that row', () =>
  tamperCase(async (store, raw) => {
    raw.prepare('UPDATE audit SET details = ? WHERE id = 3').run('{"at":99}');
    const check = await verify(store);
    assert.deepEqual(
      [check.ok, check.problem?.kind, check.problem?.id, check.checked],
      [false, 'edited', 3, 2],
    );
  }));

test('sqlite: deleting a middle audit row is detected at the row after it', () =>
  tamperCase(async (store, raw) => {
    raw.exec('DELETE FROM audit WHERE id = 3');
    const check = await verify(store);
    assert.deepEqual([check.ok, check.problem?.kind, check.problem?.id], [false, 'deleted', 4]);
  }));

test('sqlite: deleting the last audit row is detected against the head', () =>
  tamperCase(async (store, raw) => {
    raw.exec('DELETE FROM audit WHERE id = 5');
    const check = await verify(store);
    assert.deepEqual(
      [check.ok, check.problem?.kind, check.problem?.id, check.checked],
      [false, 'truncated', 5, 4],
    );
  }));

test('sqlite: blanking a hash is reported, not silently re-chained on the next open', () =>
  withFile(async (file) => {
    const store = createSqliteStore(file);
    await store.appendAudit({ at: 1, actor: 'admin', action: 'a', subject: 's' });
    await store.close();
    const raw = new DatabaseSync(file);
    raw.exec("UPDATE audit SET hash = '' WHERE id = 1");
    raw.close();
    const reopened = createSqliteStore(file);
    try {
      const check = await verify(reopened);
      assert.deepEqual([check.ok, check.problem?.kind, check.problem?.id], [false, 'edited', 1]);
    } finally {
      await reopened.close();
    }
  }));
