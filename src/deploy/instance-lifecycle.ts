import { randomBytes } from 'node:crypto';
import { CutoverError } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import type { InstanceRecord, LockRecord, Store } from '../store/index.ts';
import type { Runtime } from './runtime.ts';
import { planPrune } from './plan-prune.ts';
import type { PrunePlan } from './plan-prune.ts';
import { auditEntry, mustGetInstance } from '../store/index.ts';

export interface LifecycleDeps {
  store: Store;
  runtime: Runtime;
  clock: Clock;
}

// Long enough for a drain and two slot stops; expired leases are free again, so a crash mid-way
// never leaves the instance locked for good.
const LIFECYCLE_LOCK_MS = 15 * 60_000;

/**
 * Runs `work` holding the instance's deployment lock, so no deployment starts meanwhile; refused
 * (INSTANCE_LOCKED, nothing changed) while a deployment runs or someone else holds the lock.
 */
async function withInstanceLock<T>(
  deps: LifecycleDeps,
  instance: string,
  what: { operation: 'instance-delete' | 'host-change'; retry: string },
  who: Actor,
  work: (lock: LockRecord) => Promise<T>,
): Promise<T> {
  const [running] = await deps.store.listDeployments({ instance, status: 'running', limit: 1 });
  if (running) {
    throw new CutoverError(
      'INSTANCE_LOCKED',
      `deployment ${running.id} is running on "${instance}"; wait for it to finish or stop it (\`cutover abort ${instance}\`), then ${what.retry} again`,
      { details: { instance, deploymentId: running.id } },
    );
  }
  const now = deps.clock.now();
  // Not a deployment: the id says what holds the lock, for whoever finds it held.
  const id = `${what.operation}_${randomBytes(6).toString('hex')}`;
  const lock: LockRecord = { instance, owner: `${who.actor} (${what.operation})`, deploymentId: id, acquiredAt: now, expiresAt: now + LIFECYCLE_LOCK_MS };
  const taken = await deps.store.acquireLock(lock, now);
  if (!taken.ok) {
    const h = taken.holder;
    throw new CutoverError('INSTANCE_LOCKED', `instance "${instance}" is locked by ${h.owner} until ${new Date(h.expiresAt).toISOString()}; ${what.retry} again after that`, {
      details: { instance, holder: h.owner, deploymentId: h.deploymentId, expiresAt: new Date(h.expiresAt).toISOString() },
    });
  }
  try {
    return await work(lock);
  } finally {
    await deps.store.releaseLock(instance, lock.owner).catch(() => false);
  }
}

export interface DeletedInstance {
  instance: string;
  app: string;
  hosts: string[];
  /** The versions whose slots were stopped. */
  stopped: string[];
}

/**
 * Deletes an instance: under its lock, the runtime drains and stops both slots and forgets its
 * routes, then the store forgets it with an `instance.delete` audit entry. If the runtime fails,
 * the store keeps the instance (the delete can be run again).
 */
export async function deleteInstance(deps: LifecycleDeps, name: string, who: Actor): Promise<DeletedInstance> {
  const before = await mustGetInstance(deps.store, name);
  return withInstanceLock(deps, name, { operation: 'instance-delete', retry: 'delete it' }, who, async () => {
    await deps.runtime.removeInstance(name);
    const stopped = (['blue', 'green'] as const).flatMap((c) => {
      const s = before.slots[c];
      return s && s.status !== 'stopped' ? [s.version] : [];
    });
    const deleted = await deps.store.deleteInstance(name, auditEntry(who, 'instance.delete', name, {
      at: deps.clock.now(),
      instance: name,
      app: before.app,
      reason: who.reason ?? null,
      before: { app: before.app, hosts: before.hosts, environment: before.environment, currentVersion: before.currentVersion, activeColor: before.activeColor },
      after: null,
    }));
    if (!deleted) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"`, { details: { instance: name } });
    // A hold names the instance, not its record: it would pin a later instance of the same name.
    const hold = (await deps.store.listHolds()).find((h) => h.instance === name);
    if (hold) {
      await deps.store.deleteHold(name, auditEntry(who, 'instance.unhold', name, {
        at: deps.clock.now(),
        instance: name,
        app: before.app,
        reason: 'the instance was deleted',
        before: hold,
        after: null,
      }));
    }
    return { instance: name, app: before.app, hosts: before.hosts, stopped };
  });
}

/**
 * Changes an instance's host names: refused (HOST_IN_USE) if another instance has one of them;
 * under its lock the runtime re-routes (when it knows the instance), then the store records it
 * with an `instance.update` audit entry.
 */
export async function changeHosts(deps: LifecycleDeps, name: string, hosts: string[], who: Actor): Promise<InstanceRecord> {
  const wanted = [...new Set(hosts.map((h) => h.toLowerCase()))];
  const before = await mustGetInstance(deps.store, name);
  for (const other of await deps.store.listInstances()) {
    const taken = other.name !== name && other.hosts.find((h) => wanted.includes(h));
    if (taken) {
      throw new CutoverError('HOST_IN_USE', `host "${taken}" already routes to instance "${other.name}"`, { details: { host: taken, instance: other.name } });
    }
  }
  if (wanted.length === before.hosts.length && wanted.every((h, i) => h === before.hosts[i])) return before;
  return withInstanceLock(deps, name, { operation: 'host-change', retry: 'change its hosts' }, who, async () => {
    // An instance never deployed has no route yet: its first deploy creates it with these hosts.
    if (await deps.runtime.describe(name)) await deps.runtime.ensureInstance(name, wanted);
    const at = deps.clock.now();
    await deps.store.updateInstanceSpecs([{ name, hosts: wanted }], at, [
      auditEntry(who, 'instance.update', name, {
        at,
        instance: name,
        app: before.app,
        reason: who.reason ?? null,
        before: { hosts: before.hosts },
        after: { hosts: wanted },
      }),
    ]);
    return mustGetInstance(deps.store, name);
  });
}

export interface PruneResult extends PrunePlan {
  dryRun: boolean;
  keepPerInstance: number;
  /** Releases whose artifacts the server keeps (all of them: a deploy fetches from there). */
  serverReleases: number;
  /** Removals the runtime refused (a slot started using it meanwhile), with why. */
  refused: { digest: string; message: string }[];
}

/** Gathers the plain data `planPrune` decides over, then (unless `dryRun`) deletes what it says. */
export async function pruneArtifacts(deps: LifecycleDeps, options: { dryRun: boolean; keepPerInstance: number; historyLimit?: number }): Promise<PruneResult> {
  const [artifacts, instances, releases] = await Promise.all([deps.runtime.listArtifacts(), deps.store.listInstances(), deps.store.listReleases()]);
  // The artifact's digest (what the agent stores), not the release's own content hash.
  const artifactOf = (spec: Record<string, unknown>): string | undefined => {
    const a = spec.artifact as { digest?: unknown } | undefined;
    return typeof a?.digest === 'string' ? a.digest : undefined;
  };
  const digestOf = new Map(releases.flatMap((r) => {
    const d = artifactOf(r.spec);
    return d ? [[`${r.app}@${r.version}`, d] as const] : [];
  }));
  const slots = instances.map((i) => ({
    instance: i.name,
    digests: (['blue', 'green'] as const).flatMap((c) => {
      const s = i.slots[c];
      const d = s && s.status !== 'stopped' ? digestOf.get(`${i.app}@${s.version}`) : undefined;
      return d ? [d] : [];
    }),
  }));
  // A deployment running now may be about to start its release: its artifact stays too.
  const running = await deps.store.listDeployments({ status: 'running' });
  for (const d of running) {
    const i = instances.find((x) => x.name === d.instance);
    const digest = i && digestOf.get(`${i.app}@${d.toVersion}`);
    if (digest) slots.push({ instance: d.instance, digests: [digest] });
  }
  const history = await Promise.all(
    instances.map(async (i) => {
      const limit = options.historyLimit ?? 50;
      const done = (await Promise.all((['succeeded', 'partial'] as const).map((status) => deps.store.listDeployments({ instance: i.name, status, limit })))).flat();
      return { instance: i.name, digests: done.flatMap((d) => digestOf.get(`${i.app}@${d.toVersion}`) ?? []) };
    }),
  );
  const plan = planPrune({ artifacts, slots, history, keepPerInstance: options.keepPerInstance });
  const refused: PruneResult['refused'] = [];
  if (!options.dryRun) {
    for (const r of plan.remove) {
      try {
        await deps.runtime.deleteArtifact(r.digest);
      } catch (error) {
        if ((error as { code?: string }).code !== 'SLOT_BUSY') throw error;
        refused.push({ digest: r.digest, message: (error as Error).message });
      }
    }
  }
  const kept = new Set(refused.map((r) => r.digest));
  const removed = plan.remove.filter((r) => !kept.has(r.digest));
  return {
    dryRun: options.dryRun,
    keepPerInstance: options.keepPerInstance,
    serverReleases: releases.length,
    keep: [...plan.keep, ...plan.remove.filter((r) => kept.has(r.digest)).map((r) => ({ ...r, why: ['in use on the agent'] }))],
    remove: removed,
    freedBytes: removed.reduce((n, r) => n + r.size, 0),
    refused,
  };
}
