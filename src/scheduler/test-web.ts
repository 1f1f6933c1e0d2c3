// Test support (not shipped): what the scheduler's watchers are tested over.
import { Readable } from 'node:stream';
import { createInstance, createInstanceSchema } from '../control/index.ts';
import { createDeployer } from '../deploy/index.ts';
import { ManualClock } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { FakeRuntime, testReleaseSpec } from '../testing/index.ts';

/**
 * A memory store, a manual clock, a fake runtime on that clock and a deployer over them, with shop
 * 1.0.0 and 1.1.0 published (1.1.0 with `tests`, when given) and the instance `web` (`web.test`)
 * created; nothing deployed yet.
 */
export async function webWithTwoReleases(tests?: Record<string, unknown>) {
  const store = createMemoryStore();
  const clock = new ManualClock();
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000 });
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: '1', spec: testReleaseSpec('1.0.0'), createdAt: 1, createdBy: 'ci' });
  await store.insertRelease({ app: 'shop', version: '1.1.0', digest: '2', spec: testReleaseSpec('1.1.0', tests ? { tests } : {}), createdAt: 1, createdBy: 'ci' });
  await createInstance({ store, clock }, createInstanceSchema.parse({ name: 'web', app: 'shop', hosts: ['web.test'] }), { actor: 'admin', role: 'admin', requestId: null });
  return { store, clock, runtime, deployer };
}
