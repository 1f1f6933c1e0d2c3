import pg from 'pg';
import { CutoverError } from '../../shared/index.ts';
import { fromRelayedError, livenessKeys, noHolder, relayTimeout, relayedError } from '../replica-bus.ts';
import { isSealed, newRelayKeys, relayCipher } from './relay-seal.ts';
import type { MachineHolder, RelayedError, ReplicaBus, ReplicaBusListeners } from '../replica-bus.ts';

/** Options of {@link createPostgresReplicaBus}. */
export interface PostgresReplicaBusOptions {
  /** This replica's address, for others' messages (`<hostname>/<apiHost>:<apiPort>`). */
  replica?: string | null;
  /**
   * How often calls in flight are checked by query (their holder still alive, an answer whose
   * notification was lost) and calls relayed here but not yet taken are taken (default 1000 ms).
   */
  pollMs?: number;
  /** What a lost LISTEN connection waits before it connects again (default 1000 ms). */
  reconnectMs?: number;
  /** How long `close` waits for the calls it is running for other replicas to be answered (default 2000 ms). */
  closeGraceMs?: number;
}

const CHANNEL = 'cutover_bus';
/** How long the row of a dead replica is kept, so `alive` says false for it rather than "cannot tell". */
const DEAD_ROWS_KEPT_MS = 24 * 3_600_000;

/** A replica is alive while the advisory lock of its keys (`r.lock_a`, `r.lock_b`) is held in this database. */
const LIVE = `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = r.lock_a::oid AND l.objid = r.lock_b::oid)`;

interface Pending {
  machine: string;
  type: string;
  holder: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The `ReplicaBus` on the tables of migration 0009 (ADR 0025). Each replica keeps one dedicated
 * connection that holds its liveness lock (session-level: PostgreSQL frees it when the connection
 * closes, so a SIGKILLed replica is dead within milliseconds) and LISTENs on `cutover_bus`, whose
 * payloads carry only kinds and row ids (`{"k":"call","to":<serverId>,"id":…}`). Bodies and answers
 * stay in `relayed_calls`; the caller deletes its row. Every `pollMs`, what a lost notification
 * would have said is read instead, so a call never waits on one.
 */
export function createPostgresReplicaBus(url: string, serverId: string, options: PostgresReplicaBusOptions = {}): ReplicaBus {
  const pollMs = options.pollMs ?? 1000;
  const reconnectMs = options.reconnectMs ?? 1000;
  // The application name lets an operator see (and a test terminate) a replica's connections.
  const applicationName = `cutover-bus ${serverId}`.slice(0, 63);
  const pool = new pg.Pool({ connectionString: url, max: 3, application_name: applicationName });
  pool.on('error', () => {}); // an idle connection dropped: the next query opens another
  const keys = livenessKeys(serverId);
  // Bodies and answers are sealed for the replica that reads them: what the rows leave in the WAL is ciphertext.
  const relayKeys = newRelayKeys();
  const cipher = relayCipher(relayKeys);
  const publicKeys = new Map<string, string>();
  /** A replica's published public key (cached: it changes only with the process, and so does its id). */
  async function publicKeyOf(id: string): Promise<string> {
    let key = publicKeys.get(id);
    if (!key) {
      const res = await pool.query<{ public_key: string }>('SELECT public_key FROM replicas WHERE server_id = $1', [id]);
      key = res.rows[0]?.public_key;
      if (!key) throw new CutoverError('INTERNAL', `replica ${id} published no relay key`);
      publicKeys.set(id, key);
    }
    return key;
  }
  const claimed = new Set<string>();
  const pending = new Map<string, Pending>();
  /** Answers notified before their caller knew the call's id (the insert's result still on its way). */
  const early = new Set<string>();
  const serving = new Set<Promise<void>>();
  let listeners: ReplicaBusListeners | undefined;
  let listener: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;

  async function connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: applicationName });
    client.on('error', () => {}); // 'end' follows
    await client.connect();
    try {
      const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', keys);
      if (!locked.rows[0]?.ok) throw new CutoverError('INTERNAL', `another process holds the liveness lock of server ${serverId}`);
      await client.query(
        `INSERT INTO replicas (server_id, replica, lock_a, lock_b, public_key, started_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (server_id) DO UPDATE SET replica = EXCLUDED.replica, public_key = EXCLUDED.public_key`,
        [serverId, options.replica ?? null, keys[0], keys[1], relayKeys.publicKey, Date.now()],
      );
      // Claims a peer's clean-up removed while this connection was away are made again.
      for (const machine of claimed) await claimRow(client, machine);
      client.on('notification', (msg) => onNotification(msg.payload));
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    client.once('end', () => {
      if (closing || listener !== client) return;
      listener = undefined;
      void reconnect();
    });
    listener = client;
  }

  async function reconnect(): Promise<void> {
    while (!closing && !listener) {
      await new Promise((r) => setTimeout(r, reconnectMs).unref());
      if (closing) return;
      await connectListener().catch(() => undefined);
    }
    if (listener) {
      listeners?.onClaimsChanged?.();
      listeners?.onDesiredChanged?.();
    }
  }

  function onNotification(payload: string | undefined): void {
    let msg: { k?: string; to?: string; id?: string; machine?: unknown; why?: unknown };
    try {
      msg = JSON.parse(payload ?? '{}') as typeof msg;
    } catch {
      return;
    }
    if (msg.k === 'claims') listeners?.onClaimsChanged?.();
    else if (msg.k === 'disconnect' && typeof msg.machine === 'string') listeners?.onDisconnect?.(msg.machine, String(msg.why ?? ''));
    else if (msg.k === 'desired') listeners?.onDesiredChanged?.();
    else if (msg.to !== serverId || msg.id === undefined) return;
    else if (msg.k === 'call') void take(msg.id);
    else if (msg.k === 'answer') {
      if (pending.has(msg.id)) void finish(msg.id);
      else if (early.size < 1000) early.add(msg.id);
    }
  }

  const claimRow = (q: pg.Pool | pg.Client, machine: string) =>
    q.query(
      `WITH c AS (INSERT INTO machine_sessions (machine, server_id, claimed_at) VALUES ($1, $2, $3)
         ON CONFLICT (machine) DO UPDATE SET server_id = EXCLUDED.server_id, claimed_at = EXCLUDED.claimed_at RETURNING 1)
       SELECT pg_notify('${CHANNEL}', '{"k":"claims"}') FROM c`,
      [machine, serverId, Date.now()],
    );

  /** Takes the calls relayed here (one, or every one not taken yet) and runs each. */
  async function take(id?: string): Promise<void> {
    const res = await pool
      .query<{ id: string; machine: string; type: string; body: unknown; caller: string }>(
        `UPDATE relayed_calls SET taken = true WHERE holder = $1 AND NOT taken ${id === undefined ? '' : 'AND id = $2'}
         RETURNING id::text, machine, type, body, caller`,
        id === undefined ? [serverId] : [serverId, id],
      )
      .catch(() => undefined);
    for (const row of res?.rows ?? []) {
      const work = run(row).finally(() => serving.delete(work));
      serving.add(work);
    }
  }

  async function run(row: { id: string; machine: string; type: string; body: unknown; caller: string }): Promise<void> {
    let answer: { v?: unknown } | null = null;
    let error: RelayedError | null = null;
    let callerKey: string | undefined;
    try {
      callerKey = await publicKeyOf(row.caller);
      if (!isSealed(row.body)) throw new CutoverError('VALIDATION_FAILED', `a relayed ${row.type} came unsealed: refused`);
      const body = cipher.open(callerKey, row.body, contextOf(row.machine, row.type));
      const value = await listeners!.serve(row.machine, row.type, body);
      answer = value === undefined ? {} : { v: value };
    } catch (e) {
      error = relayedError(e);
    }
    // Sealed for the caller; without its key (it is gone), nothing is written and it times out.
    if (!callerKey) return;
    const context = contextOf(row.machine, row.type, 'answer');
    const sealedAnswer = answer === null ? null : cipher.seal(callerKey, answer, context);
    const sealedError = error === null ? null : cipher.seal(callerKey, error, context);
    // The caller may have given up (its row deleted): then nothing is updated and nobody is told.
    await pool
      .query(
        `WITH u AS (UPDATE relayed_calls SET done = true, answer = $2, error = $3 WHERE id = $1 RETURNING caller, id)
         SELECT pg_notify('${CHANNEL}', json_build_object('k', 'answer', 'to', caller, 'id', id::text)::text) FROM u`,
        [row.id, sealedAnswer === null ? null : JSON.stringify(sealedAnswer), sealedError === null ? null : JSON.stringify(sealedError)],
      )
      .catch(() => undefined);
  }

  /** Reads (and deletes) the answer of call `id`, if it is there, and settles the caller. */
  async function finish(id: string): Promise<void> {
    const res = await pool
      .query<{ answer: unknown; error: unknown }>('DELETE FROM relayed_calls WHERE id = $1 AND done RETURNING answer, error', [id])
      .catch(() => undefined);
    const row = res?.rows[0];
    const call = pending.get(id);
    if (!row || !call) return;
    pending.delete(id);
    clearTimeout(call.timer);
    try {
      const holderKey = await publicKeyOf(call.holder);
      const context = contextOf(call.machine, call.type, 'answer');
      const open = (v: unknown): unknown => {
        if (!isSealed(v)) throw new CutoverError('VALIDATION_FAILED', `the answer to a relayed ${call.type} came unsealed: refused`);
        return cipher.open(holderKey, v, context);
      };
      if (row.error) call.reject(fromRelayedError(open(row.error) as RelayedError));
      else call.resolve((open(row.answer) as { v?: unknown } | null)?.v);
    } catch (error) {
      call.reject(error as Error);
    }
  }

  function giveUp(id: string, error: Error): void {
    const call = pending.get(id);
    if (!call) return;
    pending.delete(id);
    clearTimeout(call.timer);
    void pool.query('DELETE FROM relayed_calls WHERE id = $1', [id]).catch(() => undefined);
    call.reject(error);
  }

  async function alive(id: string): Promise<boolean | undefined> {
    const [a, b] = livenessKeys(id);
    try {
      const res = await pool.query<{ alive: boolean; known: boolean }>(
        `SELECT ${LIVE.replace('r.lock_a', '$1').replace('r.lock_b', '$2')} AS alive, EXISTS (SELECT 1 FROM replicas WHERE server_id = $3) AS known`,
        [a, b, id],
      );
      const row = res.rows[0]!;
      // Never registered (a replica of an earlier version, or one gone for a day): cannot tell.
      return row.alive || (row.known ? false : undefined);
    } catch {
      return undefined;
    }
  }

  /** What notifications would have said, read instead: answers, dead holders, calls not taken, orphans. */
  async function poll(): Promise<void> {
    await take();
    if (pending.size > 0) {
      const done = await pool.query<{ id: string }>('SELECT id::text FROM relayed_calls WHERE caller = $1 AND done', [serverId]).catch(() => undefined);
      for (const { id } of done?.rows ?? []) if (pending.has(id)) await finish(id);
      const holders = new Set([...pending.values()].map((c) => c.holder));
      for (const holder of holders) {
        if ((await alive(holder)) !== false) continue;
        for (const [id, call] of pending) if (call.holder === holder) giveUp(id, noHolder(call.machine, `its replica ${holder} died during ${call.type}`));
      }
    }
    // Rows of callers that died waiting.
    await pool.query(`DELETE FROM relayed_calls c WHERE NOT EXISTS (SELECT 1 FROM replicas r WHERE r.server_id = c.caller AND ${LIVE})`).catch(() => undefined);
  }

  const holderRows = async (where: string, values: unknown[]): Promise<MachineHolder[]> => {
    const res = await pool.query<{ machine: string; server_id: string; replica: string | null }>(
      `SELECT s.machine, s.server_id, r.replica FROM machine_sessions s JOIN replicas r ON r.server_id = s.server_id WHERE ${LIVE} ${where} ORDER BY s.machine`,
      values,
    );
    return res.rows.map((r) => ({ machine: r.machine, serverId: r.server_id, replica: r.replica }));
  };

  return {
    serverId,
    async start(given) {
      listeners = given;
      await connectListener();
      // Replicas whose lock is free are dead: their claims go; their rows a day later (until then
      // `alive` answers false for them, not "cannot tell").
      await pool.query(`DELETE FROM machine_sessions s USING replicas r WHERE r.server_id = s.server_id AND NOT ${LIVE}`);
      await pool.query(`DELETE FROM replicas r WHERE started_at < $1 AND NOT ${LIVE}`, [Date.now() - DEAD_ROWS_KEPT_MS]);
      let polling = false;
      timer = setInterval(() => {
        if (polling) return;
        polling = true;
        void poll().finally(() => (polling = false));
      }, pollMs);
      timer.unref();
    },
    async claim(machine) {
      claimed.add(machine);
      await claimRow(pool, machine);
    },
    async release(machine) {
      claimed.delete(machine);
      await pool.query(
        `WITH d AS (DELETE FROM machine_sessions WHERE machine = $1 AND server_id = $2 RETURNING 1) SELECT pg_notify('${CHANNEL}', '{"k":"claims"}') FROM d`,
        [machine, serverId],
      );
    },
    holders: () => holderRows('', []),
    holderOf: async (machine) => (await holderRows('AND s.machine = $1', [machine]))[0],
    alive,
    async call(machine, type, body, { timeoutMs }) {
      let id: string;
      let holder: string;
      try {
        // The live holder first (its key seals the body), then the row, only while it still holds the machine.
        const held = await pool.query<{ server_id: string; public_key: string }>(
          `SELECT s.server_id, r.public_key FROM machine_sessions s JOIN replicas r ON r.server_id = s.server_id WHERE s.machine = $1 AND ${LIVE}`,
          [machine],
        );
        const to = held.rows[0];
        if (!to) throw noHolder(machine);
        publicKeys.set(to.server_id, to.public_key);
        const sealed = cipher.seal(to.public_key, body ?? null, contextOf(machine, type));
        const res = await pool.query<{ id: string; holder: string }>(
          `WITH c AS (INSERT INTO relayed_calls (machine, caller, holder, type, body, created_at)
             SELECT $1, $2, s.server_id, $3, $4, $5 FROM machine_sessions s WHERE s.machine = $1 AND s.server_id = $6 RETURNING id, holder)
           SELECT id::text, holder, pg_notify('${CHANNEL}', json_build_object('k', 'call', 'to', holder, 'id', id::text)::text) FROM c`,
          [machine, serverId, type, JSON.stringify(sealed), Date.now(), to.server_id],
        );
        if (!res.rows[0]) throw noHolder(machine);
        ({ id, holder } = res.rows[0]);
      } catch (error) {
        if (error instanceof CutoverError) throw error;
        throw noHolder(machine, `the database cannot be reached to relay ${type}: ${(error as Error).message}`);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => giveUp(id, relayTimeout(machine, type, timeoutMs)), timeoutMs);
        timer.unref();
        pending.set(id, { machine, type, holder, resolve, reject, timer });
        if (early.delete(id)) void finish(id);
      });
    },
    async disconnect(machine, why) {
      await pool.query(`SELECT pg_notify('${CHANNEL}', $1)`, [JSON.stringify({ k: 'disconnect', machine, why })]);
    },
    async close() {
      closing = true;
      clearInterval(timer);
      for (const [id, call] of pending) giveUp(id, noHolder(call.machine, 'this server is stopping'));
      await Promise.race([Promise.all(serving), new Promise((r) => setTimeout(r, options.closeGraceMs ?? 2000).unref())]);
      // Its claims go; then the lock, with the connection (its row stays: it is known to be dead).
      await pool.query('DELETE FROM machine_sessions WHERE server_id = $1', [serverId]).catch(() => undefined);
      await listener?.end().catch(() => undefined);
      listener = undefined;
      await pool.end().catch(() => undefined);
    },
  };
}

/** The additional data a relayed body (or its answer) is sealed under: it opens only as the same call's. */
const contextOf = (machine: string, type: string, part: 'body' | 'answer' = 'body') => `${part} ${type} ${machine}`;
