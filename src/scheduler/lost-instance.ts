import { randomUUID } from 'node:crypto';
import type { Clock, Logger } from '../shared/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { Runtime } from '../deploy/index.ts';

/** The actor of `instance.lost` audit entries. */
export const AGENT_SYNC_ACTOR = 'system';

/**
 * What the server does when the agent does not know an instance the record says serves (its
 * state files were reset or lost): it routes the instance's hosts again, so they answer 503 with
 * Retry-After instead of 404, and records the truth: no active colour and no slots, the version
 * kept (`cutover status` then says "deploy X to serve it again" and exits non-zero), with an
 * `instance.lost` audit entry holding the record as it was.
 *
 * It does not start the slots itself: a slot's full spec (the release's start command, the app
 * config resolved for this instance, health checks) is the deployer's to build, under the
 * instance's lease, with health checks before any flip. `cutover deploy <instance> <version>`
 * does exactly that. Returns false when a deployment holds the lease (it is tried next pass).
 */
export function createLostInstanceHandler(deps: { store: Store; runtime: Pick<Runtime, 'ensureInstance'>; clock: Clock; log: Logger }) {
  const { store, runtime, clock, log } = deps;
  return async (instance: InstanceRecord): Promise<boolean> => {
    const now = clock.now();
    const owner = `agent-sync:${randomUUID().slice(0, 8)}`;
    const lease = await store.acquireLock({ instance: instance.name, owner, deploymentId: 'agent-sync', acquiredAt: now, expiresAt: now + 60_000 }, now);
    if (!lease.ok) return false;
    try {
      const current = await store.getInstance(instance.name);
      if (!current || current.activeColor === null) return false; // changed meanwhile
      await runtime.ensureInstance(current.name, current.hosts);
      const before = { activeColor: current.activeColor, currentVersion: current.currentVersion, slots: current.slots };
      const after = { activeColor: null, currentVersion: current.currentVersion, slots: { blue: null, green: null } };
      await store.saveInstanceState({ ...current, ...after, updatedAt: clock.now() });
      const version = current.currentVersion;
      const reason = `the agent did not know this instance (its state was reset or lost); its hosts are routed again and nothing serves them: deploy ${version ?? 'a release'} to serve it again`;
      await store.appendAudit({
        at: clock.now(),
        actor: AGENT_SYNC_ACTOR,
        action: 'instance.lost',
        subject: current.name,
        instance: current.name,
        app: current.app,
        version,
        reason,
        requestId: null,
        before,
        after,
        details: {},
      });
      log.error({ instance: current.name, version, color: before.activeColor }, 'the agent did not know a live instance; routed its hosts again, marked it as needing a deploy');
      return true;
    } finally {
      await store.releaseLock(instance.name, owner).catch(() => false);
    }
  };
}
