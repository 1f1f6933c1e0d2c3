// A machine connected to another server replica, reached through the replica bus (ADR 0025), in
// one process: a real agent dials replica B's link; replica A, with no session of its own, drives
// it through `createReplicaRelay` over the memory bus (the PostgreSQL bus passes the same contract
// suite, and `test/replica-bus.e2e.test.ts` runs both replicas for real). The Runtime contract runs
// through the relay, every request and answer crossing as JSON as they do through the database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { packArtifact } from '../src/releases/index.ts';
import { FIXTURE_APP, fixtureSlotSpec, rollBackLocally, startTestAgent, tempDataDir } from '../src/agent/test-agent.ts';
import { captureLog, runtimeContract, startLinkServer } from '../src/testing/index.ts';
import { createAgentLink, createReplicaRelay, runtimeOver } from '../src/link/index.ts';
import { createMemoryBusHub, createMemoryReplicaBus, createMemoryStore } from '../src/store/index.ts';
import { isCutoverError, systemClock } from '../src/shared/index.ts';

/** Replica B holding web-1's session (a real agent dialled it), and replica A reaching it through the bus. */
async function twoReplicas() {
  const hub = createMemoryBusHub();
  const busB = createMemoryReplicaBus(hub, 'srv_b', 'host-b/127.0.0.1:1');
  const server = await startLinkServer({ bus: busB });
  const relayB = createReplicaRelay({ bus: busB, link: () => server.link, log: captureLog() });
  await relayB.start(() => {});
  const linkA = createAgentLink({ store: createMemoryStore(), clock: systemClock, log: captureLog(), artifactPath: (d) => d });
  const busA = createMemoryReplicaBus(hub, 'srv_a');
  const relayA = createReplicaRelay({ bus: busA, link: () => linkA, log: captureLog() });
  await relayA.start(() => {});
  return {
    server,
    busA,
    relayA,
    async stop() {
      await relayA.close();
      linkA.close();
      await relayB.close();
      await server.stop();
    },
  };
}

runtimeContract('the agent through another replica (relayed over the replica bus)', async () => {
  const replicas = await twoReplicas();
  const temp = await tempDataDir();
  const packed = await packArtifact(FIXTURE_APP);
  await replicas.server.artifacts.put(createReadStream(packed.file), packed.digest);
  const agent = await startTestAgent(temp.dir, {}, { machine: { link: replicas.server.machineLink, agentVersion: '0.0.0' } });
  await agent.agent.session!.whenConnected(10_000);
  return {
    runtime: runtimeOver(replicas.relayA.send('web-1'), async () => {}),
    artifact: { digest: packed.digest, open: () => createReadStream(packed.file) },
    rollBackLocally: (instance) => rollBackLocally(temp.dir, instance),
    spec: fixtureSlotSpec(packed.digest),
    async stop() {
      await agent.stop();
      await replicas.stop();
      if (packed.temporary) await rm(packed.file, { force: true });
      await temp.cleanup();
    },
  };
});

test('the replica holding a machine refuses to relay what is not an agent message, or a streamed one; A sees B\'s machine as connected and names B, and ends its session there; pushed counters count only when every machine pushes here', async () => {
  const replicas = await twoReplicas();
  const temp = await tempDataDir();
  const agent = await startTestAgent(temp.dir, {}, { machine: { link: replicas.server.machineLink, agentVersion: '0.0.0' } });
  try {
    await agent.agent.session!.whenConnected(10_000);
    const deadline = Date.now() + 5000;
    while (!replicas.relayA.connected().includes('web-1')) {
      assert.ok(Date.now() < deadline, 'A learns that B holds web-1');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(replicas.relayA.remoteHolder('web-1')?.replica, 'host-b/127.0.0.1:1');
    // What another replica of the database could send, bypassing the typed runtime.
    for (const name of ['shell.exec', 'instance.logs']) {
      await assert.rejects(replicas.busA.call('web-1', name, {}, { timeoutMs: 5000 }), (e: unknown) => isCutoverError(e) && e.code === 'VALIDATION_FAILED' && e.message.includes(name));
    }
    const send = replicas.relayA.send('web-1');
    // Counters pushed to B sum an instance's machines only when every one of them pushes to B:
    // otherwise the bake asks each machine, wherever it is connected.
    await send('instance.put', { instance: 'shop', hosts: ['shop.test'] });
    const pushed = Date.now() + 5000;
    while (!replicas.server.link.pushedStats('shop', ['web-1'])) {
      assert.ok(Date.now() < pushed, 'web-1 pushes the counters of shop to B');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(replicas.server.link.pushedStats('shop', ['web-1', 'web-2']), undefined, 'web-2 pushes elsewhere');
    // A machine removed or its credential rotated through A: its session on B ends.
    const session = replicas.server.link.sessionOf('web-1')!;
    await replicas.relayA.disconnect('web-1', 'its credential was rotated');
    const ended = Date.now() + 5000;
    while (!session.closed) {
      assert.ok(Date.now() < ended, "B ends web-1's session when A asks");
      await new Promise((r) => setTimeout(r, 20));
    }
    await agent.stop();
    const gone = Date.now() + 5000;
    while (replicas.relayA.connected().includes('web-1')) {
      assert.ok(Date.now() < gone, 'A learns that web-1 left B');
      await new Promise((r) => setTimeout(r, 20));
    }
    await assert.rejects(send('agent.state', {}), (e: unknown) => isCutoverError(e) && e.code === 'AGENT_UNREACHABLE' && (e.details as { machine?: string }).machine === 'web-1');
  } finally {
    await agent.stop().catch(() => undefined);
    await replicas.stop();
    await temp.cleanup();
  }
});
