import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { agentStateBase } from './agent-files.ts';
import { expectationOf } from './agent-readiness.ts';
import { createStateFile } from './agent-state.ts';
import type { AgentState, PersistedInstance } from './agent-state.ts';
import { deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const HOST = 'shop.test';
const doc = (live: string | null, extra: { draining?: boolean; instances?: string[] } = {}) => ({
  machine: 'any',
  instances: (extra.instances ?? ['shop']).map((name) => ({
    name,
    hosts: [`${name}.test`],
    live: live === null ? null : { version: live, digest: DIGEST, color: 'green' as const },
    warm: null,
    maintenance: false,
  })),
  ...(extra.draining === undefined ? {} : { draining: extra.draining }),
});
const routed = (flippedUnder?: number): PersistedInstance => ({ hosts: [HOST], active: 'blue', slots: {}, ...(flippedUnder === undefined ? {} : { flippedUnder }) });

test('expectationOf: none without a document; the live versions, draining (absent: false) and flips since the document held', () => {
  assert.equal(expectationOf({ version: 1, instances: { shop: routed() } }), null);
  const state: AgentState = { version: 1, instances: { shop: routed(6), other: routed(5) }, desired: { number: 6, document: doc('2.0.0', { instances: ['other', 'shop'] }) } };
  const expected = expectationOf(state)!;
  assert.equal(expected.draining, false, 'a document of the version before has no draining: false');
  assert.deepEqual(Object.fromEntries(expected.instances), {
    shop: { live: '2.0.0', flippedSince: true },
    other: { live: '2.0.0', flippedSince: false },
  });
  state.desired = { number: 7, document: doc(null, { draining: true }) };
  assert.deepEqual(expectationOf(state), { draining: true, instances: new Map([['shop', { live: null, flippedSince: false }]]) });
});

test('the router of an agent answers ready as its desired state says, and a flip after the document stands across a restart', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    const agent = t;
    const ready = async (): Promise<Record<string, unknown>> => {
      const answer = await get(agent.agent.routerPort, HOST, '/.well-known/cutover/ready');
      return { status: answer.status, ...(JSON.parse(answer.body) as Record<string, unknown>) };
    };
    await deploy(t.client, 'shop', HOST, { blue: { version: '1.0.0' }, green: { version: '1.1.0' } });
    await t.client.flip('shop', 'blue');
    // Numbers above the one the test server sent at connect.
    assert.deepEqual(await t.client.applyDesired(10, doc('1.1.0')), { accepted: true });
    assert.deepEqual(await ready(), { status: 503, ready: false, instance: 'shop', reason: 'live-not-served', live: '1.1.0', serving: '1.0.0' });
    await t.client.flip('shop', 'green');
    assert.deepEqual(await ready(), { status: 200, ready: true, instance: 'shop', version: '1.1.0' });
    await t.client.applyDesired(11, doc('1.0.0'));
    assert.equal((await ready()).reason, 'live-not-served', 'the newer document is the word again');
    await t.client.applyDesired(12, doc('1.1.0', { draining: true }));
    assert.deepEqual(await ready(), { status: 503, ready: false, instance: 'shop', reason: 'draining' });
    await t.client.applyDesired(13, doc('1.1.0', { instances: ['elsewhere'] }));
    assert.equal((await ready()).reason, 'removing');
    // A flip after the document (a deployment's, or a local rollback) stands until the next one.
    await t.client.applyDesired(14, doc('1.1.0'));
    await t.client.flip('shop', 'blue');
    assert.deepEqual(await ready(), { status: 200, ready: true, instance: 'shop', version: '1.0.0' });
    await t.stop();
    t = undefined;
    // The flip since document 14 is in the state file, so a restarted agent answers the same.
    const file = createStateFile(agentStateBase(join(data.dir, 'agent')));
    const { state } = await file.load();
    await file.close();
    assert.equal(state.instances.shop?.flippedUnder, 14);
    assert.equal(expectationOf(state)?.instances.get('shop')?.flippedSince, true);
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});
