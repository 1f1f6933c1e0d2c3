import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { replicaBusContract } from '../replica-bus-contract.ts';
import { createPostgresReplicaBus } from './postgres-replica-bus.ts';
import { createPostgresStore } from './postgres-store.ts';
import { openReplicaBus } from '../open-store.ts';
import { startTestCluster } from '../../testing/index.ts';
import type { TestCluster } from '../../testing/index.ts';

let cluster: TestCluster;
before(async () => {
  cluster = await startTestCluster();
});
after(async () => {
  await cluster?.stop();
});

/** Closes every connection of a replica, as its death would (the server side: its backends end). */
const terminate = (raw: pg.Client, serverId: string) =>
  raw.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`cutover-bus ${serverId}`]);

async function database() {
  const url = await cluster.createDatabase();
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  return { url, raw, cleanup: async () => void (await raw.end(), cluster.discardDatabase(url)) };
}

// A killed replica must not come back: it does not reconnect within the test.
replicaBusContract('postgres replica bus', async () => {
  const { url, raw, cleanup } = await database();
  return {
    open: (serverId, replica) => createPostgresReplicaBus(url, serverId, { replica: replica ?? null, pollMs: 100, reconnectMs: 3_600_000, closeGraceMs: 100 }),
    kill: async (bus) => void (await terminate(raw, bus.serverId)),
    changeInstances: async () => void (await raw.query('UPDATE instances SET updated_at = updated_at WHERE false')),
    cleanup,
  };
});

test('postgres replica bus: rows are cleaned up and hold bodies and answers sealed; nothing but kinds and ids goes through NOTIFY', async () => {
  const { url, raw, cleanup } = await database();
  const payloads: string[] = [];
  raw.on('notification', (m) => payloads.push(m.payload ?? ''));
  await raw.query('LISTEN cutover_bus');
  const b = createPostgresReplicaBus(url, 'srv_b', { pollMs: 100, closeGraceMs: 100 });
  const a = createPostgresReplicaBus(url, 'srv_a', { pollMs: 100 });
  try {
    const rows: string[] = [];
    await b.start({
      serve: async (_m, type, body) => {
        // While the call is in flight, its row is what the database keeps (and its WAL): sealed.
        rows.push(JSON.stringify((await raw.query('SELECT body, answer, error FROM relayed_calls')).rows));
        assert.deepEqual(body, type === 'slow' ? {} : { token: 'body-value' }, 'the holder opens the body');
        return type === 'slow' ? new Promise(() => {}) : { secret: 'answer-value' };
      },
    });
    await a.start({ serve: async () => undefined });
    await b.claim('web-1');
    assert.deepEqual(await a.call('web-1', 'agent.state', { token: 'body-value' }, { timeoutMs: 5000 }), { secret: 'answer-value' }, 'the caller opens the answer');
    rows.push(JSON.stringify((await raw.query('SELECT body, answer FROM relayed_calls')).rows));
    await assert.rejects(a.call('web-1', 'slow', {}, { timeoutMs: 200 }));
    // A timed-out call's row is deleted right after its caller was told.
    const deadline = Date.now() + 2000;
    while ((await raw.query('SELECT 1 FROM relayed_calls')).rowCount !== 0) {
      assert.ok(Date.now() < deadline, 'answered and timed-out calls leave no row');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const p of payloads) assert.doesNotMatch(p, /value/, p);
    assert.ok(rows.length >= 2 && rows.some((r) => r.includes('"sealed":1')), JSON.stringify(rows));
    for (const r of rows) assert.doesNotMatch(r, /value|token|secret/, 'bodies and answers are sealed in the rows');
    assert.ok(payloads.some((p) => /"k" *: *"call"/.test(p)));
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

test('postgres replica bus: a replica whose connection drops is dead at once, then alive again with its claims once it reconnects', async () => {
  const { url, raw, cleanup } = await database();
  const a = createPostgresReplicaBus(url, 'srv_a', { pollMs: 100 });
  const b = createPostgresReplicaBus(url, 'srv_b', { pollMs: 100, reconnectMs: 200 });
  try {
    await a.start({ serve: async () => undefined });
    await b.start({ serve: async () => 'from b' });
    await b.claim('web-1');
    await terminate(raw, 'srv_b');
    const deadline = Date.now() + 2000;
    while ((await a.alive('srv_b')) !== false) assert.ok(Date.now() < deadline, 'dead at once');
    // A replica starting meanwhile removes the dead one's rows; B claims its machines again.
    const c = createPostgresReplicaBus(url, 'srv_c');
    await c.start({ serve: async () => undefined });
    await c.close();
    const back = Date.now() + 10_000;
    while ((await a.holderOf('web-1'))?.serverId !== 'srv_b') {
      assert.ok(Date.now() < back, 'B back with its claim');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await a.call('web-1', 'agent.state', {}, { timeoutMs: 5000 }), 'from b');
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
});

test('openReplicaBus: a bus on a postgres:// database, none with SQLite (one server)', async () => {
  assert.equal(openReplicaBus('/var/lib/cutover/private/cutover.db', 'srv_x', null), undefined);
  const url = await cluster.createDatabase();
  const store = await createPostgresStore(url); // migrates
  const bus = openReplicaBus(url, 'srv_x', 'host/x');
  try {
    assert.ok(bus);
    await bus.start({ serve: async () => undefined });
    assert.equal(await bus.alive('srv_x'), true);
  } finally {
    await bus?.close();
    await store.close();
    cluster.discardDatabase(url);
  }
});
