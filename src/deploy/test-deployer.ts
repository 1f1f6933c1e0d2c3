// Test support for the deployer's unit tests: a deployer on the memory store, the fake runtime and
// a manual clock, with releases 1.0.0, 1.1.0 and 1.2.0 of `shop` and instance `web`. Not a test file.
import { Readable } from 'node:stream';
import { ManualClock } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { createDeployer } from './deployer.ts';
import type { DeployerOptions } from './deployer.ts';
import { FakeRuntime, testInstance, testReleaseSpec } from '../testing/index.ts';

/** Builds the testbed; `options` override the deployer's (a 10 s lease, a 60 s rollback window). */
export async function deployerTestbed(options: Partial<DeployerOptions> = {}) {
  const store = createMemoryStore();
  const runtime = new FakeRuntime();
  const clock = new ManualClock(1_000_000);
  runtime.now = () => clock.now();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    await store.insertRelease({ app: 'shop', version: v, digest: v, spec: testReleaseSpec(v), createdAt: 1, createdBy: 'ci' });
  }
  await store.insertInstance(testInstance());
  const deployer = createDeployer({
    store,
    runtime,
    clock,
    openArtifact: () => Readable.from([]),
    rollbackWindowMs: 60_000,
    lockTtlMs: 10_000,
    ...options,
  });
  /** Starts a deployment and waits (up to 5 s) for it to end. */
  const run = async (p: Promise<{ id: string }>) => (await deployer.wait((await p).id, 5000))!;
  return { store, runtime, clock, deployer, run };
}
