// A call through a replica found gone (the holder list lags its death): the fleet runtime reads the
// holders again and sends the call where the machine is now, here or elsewhere (issue 19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CutoverError, silentLogger, systemClock } from '../src/shared/index.ts';
import { createMemoryStore } from '../src/store/index.ts';
import { createFleetRuntime } from '../src/link/index.ts';
import type { AgentLink, ReplicaRelay } from '../src/link/index.ts';
import { testInstance } from '../src/testing/index.ts';

async function setup() {
  const calls: string[] = [];
  let local: { closed: boolean; call(name: string): Promise<unknown> } | undefined;
  let holder: { machine: string; serverId: string; replica: string | null } | undefined = { machine: 'web-1', serverId: 'srv_a', replica: 'a' };
  const relay = {
    remoteHolder: (m: string) => (m === 'web-1' && !local ? holder : undefined),
    connected: () => ['web-1'],
    send: () => (async (name: string) => {
      calls.push(`relayed ${name}`);
      throw new CutoverError('AGENT_UNREACHABLE', 'the agent of machine web-1 is not connected to any server replica', { details: { machine: 'web-1' } });
    }) as never,
    refresh: async () => {
      calls.push('refresh');
    },
    start: async () => undefined,
    disconnect: async () => undefined,
    close: async () => undefined,
  } satisfies ReplicaRelay;
  const link = {
    sessionOf: () => local,
    connected: () => (local ? ['web-1'] : []),
    lostAt: () => undefined,
  } as unknown as AgentLink;
  const store = createMemoryStore();
  await store.insertInstance(testInstance({ name: 'shop', placement: { machines: ['web-1'] } }));
  const fleet = createFleetRuntime({ store, clock: systemClock, log: silentLogger, link: () => link, localRollbacks: { rollbackWindowMs: 60_000, lockTtlMs: 10_000 }, relay });
  return {
    fleet,
    calls,
    /** The agent reconnects to this replica; its session answers. */
    reconnectHere: () => {
      local = { closed: false, call: async (name: string) => (calls.push(`local ${name}`), undefined) };
    },
    holderGone: () => (holder = undefined),
  };
}

test('a relayed call whose holder is gone goes to the session the machine opened here meanwhile', async () => {
  const { fleet, calls, reconnectHere } = await setup();
  setTimeout(reconnectHere, 300);
  assert.equal(await fleet.runtime.on(['web-1']).describe('shop'), undefined);
  assert.equal(calls[0], 'relayed instance.describe');
  assert.ok(calls.includes('refresh'), 'the holders were read again');
  assert.equal(calls.at(-1), 'local instance.describe', calls.join(', '));
});

test('a relayed call whose machine is back nowhere fails after a bounded wait, naming it', async () => {
  const { fleet, calls, holderGone } = await setup();
  holderGone();
  const started = Date.now();
  await assert.rejects(fleet.runtime.on(['web-1']).describe('shop'), /web-1/);
  assert.equal(calls.filter((c) => c.startsWith('local')).length, 0);
  assert.ok(Date.now() - started < 10_000);
});
