/**
 * The added latency of one call relayed between server replicas through PostgreSQL (issue 19,
 * ADR 0025): two `ReplicaBus`es on one database of a throwaway cluster on loopback; B holds machine
 * web-1 and answers at once (no agent: what is measured is the relay alone, the session call it
 * wraps costs what `profile/agent-calls.ts` measures); A calls it sequentially. A small answer
 * (an `instance.flip`-sized one) and a 50 kB one (an `agent.state` of many instances, beyond
 * NOTIFY's 8000-byte payload, which is why answers stay in rows). See README.md ("replica-relay").
 *
 * Usage: node replica-relay.ts [--calls 300] [--warmup 20]
 */
import { createPostgresStore, openReplicaBus } from '../src/store/index.ts';
import { startTestCluster } from '../src/testing/index.ts';
import { intFlag } from './lib/cutover-process.ts';
import { header, row, summarise } from './lib/stats.ts';

const calls = intFlag('calls', 300);
const warmup = intFlag('warmup', 20);

const cluster = await startTestCluster();
try {
  const url = await cluster.createDatabase();
  const store = await createPostgresStore(url);
  const small = { color: 'green', flippedAt: Date.now(), previous: 'blue' };
  const big = { instances: Array.from({ length: 100 }, (_, i) => ({ name: `shop-${i}`, note: 'x'.repeat(480) })) };
  const b = openReplicaBus(url, 'srv_bench_b', null)!;
  const a = openReplicaBus(url, 'srv_bench_a', null)!;
  await b.start({ serve: async (_machine, type) => (type === 'agent.state' ? big : small) });
  await a.start({ serve: async () => undefined });
  await b.claim('web-1');
  const measure = async (type: string) => {
    const samples: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const t0 = performance.now();
      await a.call('web-1', type, { instance: 'shop', color: 'green' }, { timeoutMs: 10_000 });
      if (i >= warmup) samples.push(performance.now() - t0);
    }
    return summarise(samples);
  };
  console.log(header());
  console.log(row('relayed call, small answer (instance.flip-sized)', await measure('instance.flip')));
  console.log(row(`relayed call, ${JSON.stringify(big).length} B answer (agent.state-sized)`, await measure('agent.state')));
  await a.close();
  await b.close();
  await store.close();
} finally {
  await cluster.stop();
}
