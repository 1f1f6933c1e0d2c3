import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { RelayHandler, ReplicaBus } from './replica-bus.ts';

/** What each contract test gets: replicas of one fresh, empty database (or hub). */
export interface BusesUnderTest {
  /** A replica on the shared database, not started. */
  open(serverId: string, replica?: string): ReplicaBus;
  /** Kills a replica as SIGKILL would: its connections close, it says nothing and never comes back. */
  kill(bus: ReplicaBus): Promise<void>;
  /** Changes instances in the database as any replica's store would. */
  changeInstances(): Promise<void>;
  cleanup(): Promise<void>;
}

const code = (expected: string) => (e: unknown) => isCutoverError(e) && e.code === expected;

/** Polls `check` until it holds (a notification is asynchronous), failing after `ms`. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The contract of `ReplicaBus` (how server replicas reach each other's machines), run against the
 * memory fake and PostgreSQL.
 */
export function replicaBusContract(name: string, make: () => Promise<BusesUnderTest>) {
  const withBuses = (title: string, fn: (t: BusesUnderTest & { replica(id: string, serve?: RelayHandler): Promise<{ bus: ReplicaBus; events: string[] }> }) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const under = await make();
      const started: ReplicaBus[] = [];
      const replica = async (id: string, serve: RelayHandler = async () => undefined) => {
        const bus = under.open(id, `host/${id}`);
        const events: string[] = [];
        await bus.start({ serve, onClaimsChanged: () => events.push('claims'), onDesiredChanged: () => events.push('desired'), onDisconnect: (machine, why) => events.push(`disconnect ${machine}: ${why}`) });
        started.push(bus);
        return { bus, events };
      };
      try {
        await fn({ ...under, replica });
      } finally {
        for (const bus of started) await bus.close();
        await under.cleanup();
      }
    });

  withBuses('a claim is read by every replica; a newer claim wins; a release removes only its own claim', async ({ replica }) => {
    const a = await replica('srv_a');
    const b = await replica('srv_b');
    await a.bus.claim('web-1');
    assert.deepEqual(await b.bus.holders(), [{ machine: 'web-1', serverId: 'srv_a', replica: 'host/srv_a' }]);
    await eventually('B told of the claim', () => b.events.includes('claims'));
    await b.bus.claim('web-1'); // the agent reconnected to B
    assert.equal((await a.bus.holderOf('web-1'))?.serverId, 'srv_b');
    await a.bus.release('web-1'); // A's session ended late: B's claim stays
    assert.equal((await a.bus.holderOf('web-1'))?.serverId, 'srv_b');
    await b.bus.release('web-1');
    assert.equal(await a.bus.holderOf('web-1'), undefined);
    assert.deepEqual(await a.bus.holders(), []);
  });

  withBuses('a live replica is alive to all; a killed one is dead at once and its claims count as none; a closed one too', async ({ replica, kill }) => {
    const a = await replica('srv_a');
    const b = await replica('srv_b');
    const c = await replica('srv_c');
    assert.equal(await a.bus.alive('srv_b'), true);
    assert.equal(await b.bus.alive('srv_b'), true);
    assert.equal(await a.bus.alive('srv_never'), undefined, 'never registered (an earlier version): cannot tell');
    await b.bus.claim('web-2');
    await kill(b.bus);
    await eventually('B dead', async () => (await a.bus.alive('srv_b')) === false, 2000);
    assert.equal(await a.bus.holderOf('web-2'), undefined);
    await c.bus.claim('web-3');
    await c.bus.close();
    assert.equal(await a.bus.alive('srv_c'), false);
    assert.deepEqual(await a.bus.holders(), []);
  });

  withBuses('a call reaches the replica holding the machine, body and answer intact, however big', async ({ replica }) => {
    const seen: unknown[] = [];
    const b = await replica('srv_b', async (machine, type, body) => {
      seen.push({ machine, type, body });
      if (type === 'slot.stop') return undefined;
      return { instances: [{ name: 'shop', blob: 'x'.repeat(50_000) }], n: 1.5, ok: true };
    });
    const a = await replica('srv_a');
    await b.bus.claim('web-1');
    const answer = (await a.bus.call('web-1', 'agent.state', { deep: { list: [1, 'two', null] } }, { timeoutMs: 5000 })) as { instances: { blob: string }[]; n: number };
    assert.equal(answer.instances[0]!.blob.length, 50_000);
    assert.equal(answer.n, 1.5);
    assert.deepEqual(seen, [{ machine: 'web-1', type: 'agent.state', body: { deep: { list: [1, 'two', null] } } }]);
    assert.equal(await a.bus.call('web-1', 'slot.stop', { instance: 'shop', color: 'blue' }, { timeoutMs: 5000 }), undefined);
    // Several at once, each with its own answer.
    const many = await Promise.all([1, 2, 3, 4, 5].map((i) => a.bus.call('web-1', 'agent.state', { i }, { timeoutMs: 5000 })));
    assert.equal(many.length, 5);
  });

  withBuses("the agent's error comes back with its code, message and details", async ({ replica }) => {
    const b = await replica('srv_b', async () => {
      throw new CutoverError('INSTANCE_NOT_FOUND', 'the agent does not know instance shop', { details: { instance: 'shop', machine: 'web-1' } });
    });
    const a = await replica('srv_a');
    await b.bus.claim('web-1');
    await assert.rejects(a.bus.call('web-1', 'instance.describe', { instance: 'shop' }, { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(isCutoverError(e));
      assert.equal(e.code, 'INSTANCE_NOT_FOUND');
      assert.equal(e.message, 'the agent does not know instance shop');
      assert.deepEqual(e.details, { instance: 'shop', machine: 'web-1' });
      return true;
    });
  });

  withBuses('no live holder: AGENT_UNREACHABLE naming the machine; a holder that does not answer in time: TIMEOUT', async ({ replica }) => {
    const a = await replica('srv_a');
    await assert.rejects(a.bus.call('web-9', 'agent.state', {}, { timeoutMs: 1000 }), (e: unknown) => code('AGENT_UNREACHABLE')(e) && (e as CutoverError).details.machine === 'web-9' && /web-9/.test((e as Error).message));
    const b = await replica('srv_b', () => new Promise(() => {}));
    await b.bus.claim('web-1');
    const t0 = Date.now();
    await assert.rejects(a.bus.call('web-1', 'slot.wait', {}, { timeoutMs: 300 }), code('TIMEOUT'));
    assert.ok(Date.now() - t0 < 5000);
  });

  withBuses('a holder that dies during a call fails it with AGENT_UNREACHABLE, well before its timeout', async ({ replica, kill }) => {
    let started = false;
    const b = await replica('srv_b', () => {
      started = true;
      return new Promise(() => {});
    });
    const a = await replica('srv_a');
    await b.bus.claim('web-1');
    const call = a.bus.call('web-1', 'slot.wait', {}, { timeoutMs: 60_000 });
    const failed = assert.rejects(call, (e: unknown) => code('AGENT_UNREACHABLE')(e) && /srv_b died/.test((e as Error).message));
    await eventually('B took the call', () => started);
    const t0 = Date.now();
    await kill(b.bus);
    await failed;
    assert.ok(Date.now() - t0 < 10_000, `failed ${Date.now() - t0} ms after the holder died`);
  });

  withBuses('a disconnect asked on one replica reaches the others (the holder ends the session)', async ({ replica }) => {
    const a = await replica('srv_a');
    const b = await replica('srv_b');
    await a.bus.disconnect('web-1', 'its credential was rotated');
    await eventually('B told', () => b.events.includes('disconnect web-1: its credential was rotated'));
  });

  withBuses('a change of instances nudges every replica to push desired states', async ({ replica, changeInstances }) => {
    const a = await replica('srv_a');
    const b = await replica('srv_b');
    await changeInstances();
    await eventually('both nudged', () => a.events.includes('desired') && b.events.includes('desired'));
  });
}
