// Plain records the deployer and the API work on, for tests.
import type { DeploymentRecord, InstanceRecord, StepName } from '../store/index.ts';
import type { Actor } from '../shared/index.ts';
import type { RuntimeColorStats } from '../deploy/index.ts';

/** A release spec as the store keeps it, with fast health checks; `extra` overrides fields. */
export const testReleaseSpec = (version: string, extra: Record<string, unknown> = {}) => ({
  app: 'shop',
  version,
  artifact: { digest: `sha256:${version}`, size: 1 },
  start: 'node server.js',
  health: { path: '/', intervalMs: 10, timeoutMs: 10, healthyThreshold: 1, unhealthyThreshold: 3 },
  deployTimeoutMs: 1000,
  stopTimeoutMs: 100,
  env: {},
  components: [],
  features: [],
  notes: '',
  ...extra,
});

/** Instance `web` of app `shop` (host `web.test`), serving nothing, with `over` applied. */
export const testInstance = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name: 'web',
  app: 'shop',
  hosts: ['web.test'],
  environment: 'production',
  tenant: null,
  labels: {},
  target: null,
  window: null,
  placement: null,
  currentVersion: null,
  activeColor: null,
  slots: { blue: null, green: null },
  createdAt: 0,
  updatedAt: 0,
  ...over,
});

/** Who asks, in a test: an `Actor` with no request id (and the reason, when one is given). */
export function testActor(actor: string, reason?: string): Actor {
  return { actor, requestId: null, ...(reason === undefined ? {} : { reason }) };
}

/** A colour's router counters as an agent reports them: `ok` 2xx and `failed` 5xx answers, all under 10 ms. */
export const testColorStats = (color: 'blue' | 'green', version: string, deploymentId: string, ok: number, failed: number): RuntimeColorStats => ({
  color,
  version,
  deploymentId,
  since: new Date(0).toISOString(),
  requests: ok + failed,
  responses: { '2xx': ok, '5xx': failed },
  latency: { bucketsMs: [10, 100], counts: [ok + failed, 0, 0] },
});

/**
 * A running deploy of 1.0.0 (blue) → 1.1.0 (green) with the steps `names`: those before `at` done,
 * `at` running, the rest pending (`at` null: every step done). `over` replaces fields.
 */
export function testDeployment(names: readonly StepName[], at: StepName | null, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const k = at === null ? names.length : names.indexOf(at);
  return {
    id: 'dpl_1',
    instance: 'web',
    kind: 'deploy',
    strategy: 'start-and-flip',
    fromVersion: '1.0.0',
    toVersion: '1.1.0',
    fromColor: 'blue',
    toColor: 'green',
    status: 'running',
    steps: names.map((name, i) => ({ name, status: i < k ? 'done' : i === k ? 'running' : 'pending' })),
    actor: 'a',
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}
