import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { verifyAuditChain } from '../audit-chain.ts';
import { storeContract } from '../store-contract.ts';
import type { Store } from '../store.ts';
import type { InstanceRecord, LockRecord } from '../types.ts';
import { createPostgresStore } from './postgres-store.ts';
import { startTestCluster } from '../../testing/index.ts';
import type { TestCluster } from '../../testing/index.ts';

let cluster: TestCluster;
before(async () => {
  cluster = await startTestCluster();
});
after(async () => {
  await cluster?.stop();
});

storeContract('postgres', async () => {
  const url = await cluster.createDatabase();
  const store = await createPostgresStore(url);
  return { store, cleanup: async () => cluster.discardDatabase(url) };
});

/** A fresh database with a store on it, and raw SQL on the same database for tampering. */
async function withDatabase(fn: (ctx: { url: string; store: Store; sql: (text: string, values?: unknown[]) => Promise<pg.QueryResult> }) => Promise<void>) {
  const url = await cluster.createDatabase();
  const store = await createPostgresStore(url);
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  try {
    await fn({ url, store, sql: (text, values) => raw.query(text, values) });
  } finally {
    await raw.end();
    await store.close();
    cluster.discardDatabase(url);
  }
}

const appendFive = async (store: Store) => {
  for (let i = 1; i <= 5; i++) await store.appendAudit({ at: i, actor: 'admin', action: 'test', subject: `s${i}`, details: { i } });
};
const check = async (store: Store) => verifyAuditChain(await store.readAuditChain(0, 1e6), await store.auditHead());

test('postgres: an entry edited with raw SQL is reported as edited', async () => {
  await withDatabase(async ({ store, sql }) => {
    await appendFive(store);
    assert.equal((await check(store)).ok, true);
    await sql(`UPDATE audit SET details = '{"i": 99}' WHERE id = 3`);
    const result = await check(store);
    assert.equal(result.problem?.kind, 'edited');
    assert.equal(result.problem?.id, 3);
  });
});

test('postgres: a row deleted from the middle is reported as deleted, from the end as truncated', async () => {
  await withDatabase(async ({ store, sql }) => {
    await appendFive(store);
    await sql('DELETE FROM audit WHERE id = 5');
    const truncated = await check(store);
    assert.equal(truncated.problem?.kind, 'truncated');
    assert.equal(truncated.problem?.id, 5);
    await sql('DELETE FROM audit WHERE id = 2');
    const deleted = await check(store);
    assert.equal(deleted.problem?.kind, 'deleted');
    assert.equal(deleted.problem?.id, 3);
  });
});

test('postgres: two replicas appending at once give one gapless, valid chain', async () => {
  await withDatabase(async ({ url, store }) => {
    const other = await createPostgresStore(url, { poolSize: 5 });
    try {
      const perReplica = 60;
      const appendMany = (s: Store, who: string) =>
        Promise.all(Array.from({ length: perReplica }, (_, i) => s.appendAudit({ at: i, actor: who, action: 'race', subject: `${who}-${i}` })));
      const [a, b] = await Promise.all([appendMany(store, 'a'), appendMany(other, 'b')]);
      const ids = [...a, ...b].map((e) => e.id).sort((x, y) => x - y);
      assert.deepEqual(ids, Array.from({ length: 2 * perReplica }, (_, i) => i + 1));
      const result = await check(other);
      assert.equal(result.ok, true, result.problem?.message);
      assert.equal(result.checked, 2 * perReplica);
      // What appendAudit returned is what was stored.
      const stored = await store.readAuditChain(0, 1e6);
      assert.deepEqual(stored, [...a, ...b].sort((x, y) => x.id - y.id));
    } finally {
      await other.close();
    }
  });
});

test('postgres: racing acquireLock from two replicas gives one winner', async () => {
  await withDatabase(async ({ url, store }) => {
    const other = await createPostgresStore(url, { poolSize: 5 });
    try {
      for (let round = 0; round < 10; round++) {
        const lock = (owner: string): LockRecord => ({ instance: `i${round}`, owner, deploymentId: `d-${owner}`, acquiredAt: 0, expiresAt: 1000 });
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((owner, k) => (k % 2 === 0 ? store : other).acquireLock(lock(`${owner}${round}`), 10)),
        );
        const winners = results.filter((r) => r.ok);
        assert.equal(winners.length, 1, `round ${round}`);
        const winner = winners[0]!.ok ? winners[0]!.lock.owner : '';
        for (const r of results) if (!r.ok) assert.equal(r.holder.owner, winner);
      }
    } finally {
      await other.close();
    }
  });
});

test('postgres: racing channel moves from two replicas: one wins, the loser sees where it points', async () => {
  await withDatabase(async ({ url, store }) => {
    const other = await createPostgresStore(url, { poolSize: 5 });
    try {
      const move = (to: string, from: string | null) => ({ app: 'shop', channel: 'beta', fromVersion: from, toVersion: to, at: 1, actor: 'ci', reason: null, forced: false });
      const audit = { at: 1, actor: 'ci', action: 'channel.promote', subject: 'beta' };
      const first = await Promise.all([store.moveChannel(move('1.0.0', null), audit), other.moveChannel(move('1.0.1', null), audit)]);
      assert.equal(first.filter((r) => r.ok).length, 1);
      const pointsAt = (await store.listChannelPointers({ app: 'shop' }))[0]!.version;
      for (const r of first) if (!r.ok) assert.equal(r.current, pointsAt);
      const second = await Promise.all([store.moveChannel(move('2.0.0', pointsAt), audit), other.moveChannel(move('2.0.1', pointsAt), audit)]);
      assert.equal(second.filter((r) => r.ok).length, 1);
      assert.equal((await store.listChannelMoves({ app: 'shop' })).length, 2);
      assert.equal((await store.listAudit()).length, 2, 'only successful moves are audited');
      assert.equal((await check(store)).ok, true);
    } finally {
      await other.close();
    }
  });
});

test('postgres: JSON values PostgreSQL jsonb would refuse or reorder round-trip exactly', async () => {
  await withDatabase(async ({ store }) => {
    const details = { 'z': 1, 'a': { nul: 'a\u0000b', lone: '\ud800', emoji: '🚀', big: 2 ** 53 - 1, neg: -0.5, arr: [3, 1, 2] } };
    const appended = await store.appendAudit({ at: 1, actor: 'admin', action: 'test', subject: 'json', reason: 'lone \udc00', details, before: 'text', after: [null, true] });
    assert.equal(appended.reason, 'lone \ufffd', 'a text column cannot keep a lone surrogate: hashed as stored');
    const [read] = await store.readAuditChain(0, 10);
    assert.deepEqual(read, appended);
    assert.deepEqual(read!.details, details);
    assert.equal((await check(store)).ok, true);
  });
});

test('postgres: instance specs change atomically; a missing name changes nothing', async () => {
  await withDatabase(async ({ store }) => {
    const inst = (name: string): InstanceRecord => ({
      name,
      app: 'shop',
      hosts: [`${name}.test`],
      environment: 'production',
      tenant: 'acme',
      labels: { tier: 'gold' },
      target: { channel: 'stable' },
      window: null,
      placement: null,
      currentVersion: '1.0.0',
      activeColor: 'blue',
      slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd1' }, green: null },
      createdAt: 1,
      updatedAt: 1,
    });
    await store.insertInstance(inst('a'));
    await store.insertInstance(inst('b'));
    const audit = [{ at: 5, actor: 'admin', action: 'instance.target', subject: 'a' }];
    assert.deepEqual(await store.updateInstanceSpecs([{ name: 'a', target: null }, { name: 'nope' }], 5, audit), { missing: ['nope'] });
    assert.deepEqual(await store.getInstance('a'), inst('a'));
    assert.equal(await store.auditHead(), undefined);
    const result = await store.updateInstanceSpecs(
      [{ name: 'a', target: null, tenant: null }, { name: 'b', labels: {} }, { name: 'a', environment: 'test' }],
      5,
      audit,
    );
    assert.deepEqual(result, { missing: [] });
    assert.deepEqual(await store.getInstance('a'), { ...inst('a'), target: null, tenant: null, environment: 'test', updatedAt: 5 });
    assert.deepEqual(await store.getInstance('b'), { ...inst('b'), labels: {}, updatedAt: 5 });
    assert.equal((await store.auditHead())?.id, 1);
  });
});

test('postgres: servers migrating one new database at once run each migration once', async () => {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE cutover_fresh');
    const url = cluster.url.replace(/\/postgres$/, '/cutover_fresh');
    const stores = await Promise.all([1, 2, 3].map(() => createPostgresStore(url, { poolSize: 2 })));
    await Promise.all(stores.map((s) => s.close()));
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const rows = (await check.query('SELECT name FROM schema_migrations')).rows;
    await check.end();
    // Every numbered file of the migrations directory, each once.
    const files = readdirSync(new URL('./migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(rows.map((r) => r.name).sort(), files);
  } finally {
    await admin.end();
  }
});

test('postgres: a database at 0001 opens with 0002: windows read back null, old deployments filter by actor', async () => {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  const url = cluster.url.replace(/\/postgres$/, '/cutover_upgrade');
  try {
    await admin.query('CREATE DATABASE cutover_upgrade');
    // The database as a server before the fleet scheduler left it: 0001 applied, with data.
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      await raw.query('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
      await raw.query(await readFile(new URL('./migrations/0001_init.sql', import.meta.url), 'utf8'));
      await raw.query(`INSERT INTO schema_migrations VALUES ('0001_init.sql', 1)`);
      await raw.query(
        `INSERT INTO instances (name, app, hosts, environment, tenant, labels, target, current_version, active_color, slots, created_at, updated_at)
         VALUES ('shop-live', 'shop', '["shop.test"]', 'production', NULL, '{}', '{"version":"1.0.0"}', '1.0.0', 'blue', '{"blue":null,"green":null}', 5, 6)`,
      );
      const old = { id: 'd1', instance: 'shop-live', status: 'succeeded', actor: 'alice', createdAt: 7 };
      await raw.query('INSERT INTO deployments (id, instance, status, created_at, body) VALUES ($1, $2, $3, $4, $5)', [old.id, old.instance, old.status, old.createdAt, JSON.stringify(old)]);
    } finally {
      await raw.end();
    }
    const store = await createPostgresStore(url, { poolSize: 2 });
    try {
      const read = await store.getInstance('shop-live');
      assert.equal(read?.window, null);
      assert.deepEqual(read?.target, { version: '1.0.0' });
      assert.deepEqual((await store.listDeployments({ actor: 'alice' })).map((d) => d.id), ['d1'], 'the actor column covers rows written before it');
      await store.updateInstanceSpecs([{ name: 'shop-live', window: 'daily 01:00-04:00 UTC' }], 9, []);
      assert.equal((await store.getInstance('shop-live'))?.window, 'daily 01:00-04:00 UTC');
    } finally {
      await store.close();
    }
  } finally {
    await admin.query('DROP DATABASE IF EXISTS cutover_upgrade WITH (FORCE)');
    await admin.end();
  }
});

test('postgres: one malformed instances row is skipped with a log line naming it; the list still answers', async () => {
  const url = await cluster.createDatabase();
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const store = await createPostgresStore(url, { log: { error: (obj, msg) => void lines.push({ obj: obj as Record<string, unknown>, msg }) } });
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  try {
    for (const name of ['a', 'b', 'c']) {
      await store.insertInstance({
        name, app: 'shop', hosts: [`${name}.test`], environment: 'production', tenant: null, labels: {}, target: null, window: null,
        currentVersion: null, activeColor: null, slots: { blue: null, green: null }, createdAt: 1, updatedAt: 1,
      } as InstanceRecord);
    }
    await raw.query(`UPDATE instances SET hosts = '5' WHERE name = 'b'`);
    assert.deepEqual((await store.listInstances()).map((i) => i.name), ['a', 'c']);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.obj.key, 'b');
    assert.match(lines[0]!.msg, /skipped a malformed instances row/);
  } finally {
    await raw.end();
    await store.close();
    cluster.discardDatabase(url);
  }
});
