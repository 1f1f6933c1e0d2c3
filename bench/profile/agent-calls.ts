/**
 * Profiling aid: times calls to an agent through the session it opens to the server (ADR 0019), as
 * the server's deployer makes them (`sessionRuntime`), with nothing else of the control plane in
 * between; quiet and while a tight GET loop runs through the router. It splits a flip's cost into
 * "one round trip to the agent" (`agent.health`, `instance.describe`) and "what the flip adds"
 * (persisting the agent's state, then activating).
 *
 * The server's end runs in this process (`startLinkServer`); the agent is a real `cutover agent`
 * process that dials it (`lib/dialled-agent.ts`) and downloads the example app from it by digest.
 * Usage: node profile/agent-calls.ts
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'undici';
import { packArtifact } from '../../src/releases/index.ts';
import { EXAMPLE } from '../../src/testing/index.ts';
import { startDialledAgent } from '../lib/dialled-agent.ts';
import { header, row, summarise } from '../lib/stats.ts';

type Color = 'blue' | 'green';
const INSTANCE = 'web';

const agent = await startDialledAgent();
const deadline = setTimeout(() => {
  console.error('agent-calls: still running after 180 s; stopping');
  void agent.stop().finally(() => process.exit(1));
}, 180_000);
deadline.unref();
try {
  const { runtime } = agent;
  const packed = await packArtifact(join(EXAMPLE, 'app'));
  await agent.putArtifact(packed.file, packed.digest);
  await runtime.ensureArtifact(INSTANCE, packed.digest, () => createReadStream(packed.file));
  if (packed.temporary) await rm(packed.file, { force: true });
  await runtime.ensureInstance(INSTANCE, ['web.test']);
  // Blue serves 1.0.0 and green 1.1.0, both healthy, as after two deployments.
  for (const [color, version] of [['blue', '1.0.0'], ['green', '1.1.0']] as const) {
    const slot = await runtime.startSlot({
      instance: INSTANCE,
      color,
      version,
      digest: packed.digest,
      start: 'node server.js',
      env: {},
      health: { path: '/healthz', intervalMs: 100, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
      stopTimeoutMs: 2000,
      deploymentId: `bench-${color}`,
    });
    agent.track(slot.pid);
    const health = await runtime.waitHealthy(INSTANCE, color, 30_000);
    if (!health.ok) throw new Error(`${color} did not get healthy: ${health.message}`);
  }
  await runtime.flip(INSTANCE, 'blue');

  const session = () => agent.server.link.sessionOf(agent.machine)!;
  const timed = async (call: () => Promise<unknown>) => {
    const t = performance.now();
    await call();
    return performance.now() - t;
  };
  const router = new Client(agent.routerUrl, { pipelining: 1, keepAliveTimeout: 60_000 });
  let polling = false;
  let polls = 0;
  const poller = async () => {
    while (polling) {
      const res = await router.request({ method: 'GET', path: '/api/version', headers: { host: 'web.test' } });
      await res.body.dump();
      polls++;
    }
  };
  const series = async (label: string) => {
    const out = { flip: [] as number[], describe: [] as number[], health: [] as number[] };
    let color: Color = 'blue';
    for (let i = 0; i < 104; i++) {
      color = color === 'blue' ? 'green' : 'blue';
      const f = await timed(() => runtime.flip(INSTANCE, color));
      const d = await timed(() => runtime.describe(INSTANCE));
      const h = await timed(() => session().call('agent.health', {}));
      // The first four of each series warm the code paths up.
      if (i >= 4) {
        out.flip.push(f);
        out.describe.push(d);
        out.health.push(h);
      }
    }
    console.log(label);
    console.log(row('  instance.flip (persist state, activate)', summarise(out.flip)));
    console.log(row('  instance.describe (one round trip)', summarise(out.describe)));
    console.log(row('  agent.health (round trip, no instance)', summarise(out.health)));
  };
  console.log('agent calls over the session (framed JSON on HTTP/2, loopback), ms');
  console.log(header());
  await series('quiet:');
  polling = true;
  const loop = poller();
  await series('with a tight GET loop through the router:');
  polling = false;
  await loop;
  console.log(`(${polls} router requests during the loaded series)`);
  await router.close();
} finally {
  clearTimeout(deadline);
  const { leaked } = await agent.stop();
  if (leaked.length) console.error(`killed ${leaked.length} slot process(es) left after the agent's stop: ${leaked.join(', ')}`);
}
