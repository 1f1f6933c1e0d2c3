import { Readable } from 'node:stream';
import { FakeRuntime } from './fake-runtime.ts';
import { runtimeContract } from './runtime-contract.ts';

runtimeContract('FakeRuntime', async () => {
  const runtime = new FakeRuntime();
  return {
    runtime,
    artifact: { digest: `sha256:${'a'.repeat(64)}`, open: () => Readable.from([]) },
    spec(instance, color, version, healthy = true) {
      if (!healthy) runtime.health.set(version, { ok: false, reason: 'unhealthy', message: 'the health check failed', logTail: [] });
      return {
        instance,
        color,
        version,
        digest: `sha256:${'a'.repeat(64)}`,
        start: 'node server.mjs',
        env: {},
        health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
        stopTimeoutMs: 2000,
        deploymentId: `d-${instance}-${color}-${version}`,
      };
    },
    rollBackLocally: (instance) => runtime.rollBackLocally(instance),
    stop: async () => {},
  };
});
