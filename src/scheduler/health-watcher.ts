import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isCutoverError, otherColor, systemActor, withReason } from '../shared/index.ts';
import type { Clock, Color, Logger } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { InstanceRecord, Store } from '../store/index.ts';
import type { Deployer, Runtime, RuntimeInstance } from '../deploy/index.ts';
import { warmSlotWith } from '../deploy/index.ts';
import { reportProblem } from '../control/index.ts';
import { createRollbackGuard } from './rollback-guard.ts';
import type { RollbackGuard } from './rollback-guard.ts';

/** The actor of the health watcher's audit entries, rollbacks and problems. */
export const HEALTH_ACTOR = 'health';
/** The lease row that makes one server replica the health watcher (a name no instance can have). */
export const HEALTH_LEASE = '~health-watcher';

/** Supervisor states of an active slot that are reported as unhealthy. */
const BAD_STATES: ReadonlySet<string> = new Set(['unhealthy', 'failed', 'exited', 'restarting']);
/** States that no further check can change by itself: acted on at the first sighting. */
const GONE_STATES: ReadonlySet<string> = new Set(['failed', 'exited']);
/** Actions that open or close an episode, read back after a restart or a change of leader. */
const EPISODE_ACTIONS: ReadonlySet<string> = new Set(['slot.unhealthy', 'slot.recovered', 'health.rollback']);

export interface HealthWatcherOptions {
  store: Store;
  deployer: Deployer;
  runtime: Pick<Runtime, 'describe'>;
  clock: Clock;
  log: Logger;
  /** How often the slots' states are read. */
  intervalMs: number;
  /** Flip back to a healthy warm slot when the active one is unhealthy; off: only report. */
  rollbackOnUnhealthy: boolean;
  /** Identifies this replica in the lease. */
  owner?: string;
  /** Shared with the bake watcher so the two never roll one deployment back twice. */
  guard?: RollbackGuard;
  /**
   * Called when the agent does not know an instance the record says serves (see
   * `createLostInstanceHandler`); resolves whether it acted. Without it, such an instance is skipped.
   */
  onLost?: (instance: InstanceRecord) => Promise<boolean>;
  /**
   * Called for an instance that keeps a version but serves nowhere (`needs-deploy`) while no
   * deployment holds its lease: starts the redeploy `onLost` could not start (the lease was taken).
   * Resolves whether it started one.
   */
  onNeedsDeploy?: (instance: InstanceRecord) => Promise<boolean>;
  /**
   * Whether an instance must be left alone this pass: its machine reported a local rollback the
   * server has not recorded yet (`LocalRollbackReconciler.holds`), so its record is out of date
   * and no rollback, redeploy or report may be based on it.
   */
  holds?: (instance: string) => boolean;
}

export interface HealthFinding {
  instance: string;
  color: Color;
  version: string;
  state: string;
  /** `reported`: a new episode; `watching`: one already reported; `rolled-back`; `recovered`; `lost`: the agent did not know it (`onLost` acted). */
  action: 'reported' | 'watching' | 'rolled-back' | 'recovered' | 'lost';
}

export interface HealthWatcher {
  /** One pass over the instances' active slots; empty when another replica holds the lease. Never throws. */
  check(): Promise<HealthFinding[]>;
  start(): void;
  /** Stops the timer, waits for a pass in progress and gives the lease up. */
  stop(): Promise<void>;
}

/** One unhealthy spell of one active slot: a colour holding one deployment's release. */
interface Episode {
  color: Color;
  deploymentId: string;
  /** Consecutive passes that saw the slot in a bad state. */
  seen: number;
  reported: boolean;
  /** A rollback was started (or refused for good): never a second one in this episode. */
  acted: boolean;
}

const describeSlot = (seen: RuntimeInstance, color: Color) => seen.slots.find((s) => s.color === color);

/**
 * Watches the active slot of every instance after its flip, from the supervisor's own health
 * checks (thresholds apply there). An active slot seen `unhealthy`, `restarting`, `failed` or
 * `exited` is reported once per episode (`slot.unhealthy`; back to healthy: `slot.recovered`).
 * When the other colour still holds a warm slot that the supervisor reports healthy, it flips
 * back to it through the deployer (actor `health`), files a problem against the release that was
 * active and writes `health.rollback` with the states seen: after two consecutive bad passes (one
 * flaky observation is not enough), at the first for `failed` or `exited`.
 *
 * Only the replica holding the `~health-watcher` lease acts, and instances whose deployment lock
 * is held are skipped. Episodes live in memory and are read back from the audit log when a
 * replica first sees an instance, so a restart or a new leader does not report one twice.
 */
export function createHealthWatcher(options: HealthWatcherOptions): HealthWatcher {
  const { store, deployer, runtime, clock, log } = options;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const guard = options.guard ?? createRollbackGuard({ store, deployer, clock });
  // Per instance: its current episode, null when known healthy; absent until first seen.
  const episodes = new Map<string, Episode | null>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<HealthFinding[]> | undefined;

  /** The open episode of an instance according to the audit log (written by any replica). */
  async function episodeFromAudit(name: string): Promise<Episode | null> {
    const entries = await store.listAudit({ instance: name, actor: HEALTH_ACTOR, limit: 50 });
    const last = entries.find((e) => EPISODE_ACTIONS.has(e.action));
    if (!last || last.action === 'slot.recovered') return null;
    const color = last.details.color as Color | undefined;
    const deploymentId = last.details.deployment as string | undefined;
    if (!color || !deploymentId) return null;
    return { color, deploymentId, seen: 0, reported: true, acted: last.action === 'health.rollback' };
  }

  async function audit(instance: InstanceRecord, action: string, version: string, reason: string | null, details: Record<string, unknown>, extra = {}) {
    await store.appendAudit(auditEntry(systemActor(HEALTH_ACTOR), action, instance.name, { at: clock.now(), instance: instance.name, app: instance.app, version, reason, details, ...extra }));
  }

  async function rollBack(instance: InstanceRecord, color: Color, deploymentId: string, version: string, state: string, seen: RuntimeInstance, episode: Episode) {
    const warm = warmSlotWith(instance, clock.now());
    if (!warm) return false;
    const other = warm.color;
    const otherSeen = describeSlot(seen, other);
    if (otherSeen?.state !== 'healthy' || otherSeen.version !== warm.version) return false;

    const observed = GONE_STATES.has(state) ? `the process is ${state}` : `seen on ${episode.seen} consecutive checks`;
    const reason = `the active slot of ${version} is ${state}: ${observed}; the warm ${warm.version} slot is healthy`.slice(0, 500);
    const outcome = await guard.rollback({ instance: instance.name, color, deploymentId }, { instance: instance.name, by: withReason(systemActor(HEALTH_ACTOR), reason) });
    if (!outcome.ok) {
      // Locked: a deployment or the bake's rollback runs now; moved: it already happened. The
      // next pass sees the new state either way.
      if (outcome.code === 'INSTANCE_LOCKED' || outcome.code === 'MOVED') return false;
      episode.acted = true; // a refusal (e.g. the window just ended) would repeat every pass
      log.warn({ instance: instance.name, code: outcome.code, err: outcome.message }, 'automatic rollback of an unhealthy slot could not start');
      return false;
    }
    episode.acted = true;
    const problem = await reportProblem(
      { store, clock },
      { app: instance.app, version, title: `Rolled back automatically on ${instance.name}: the active slot was ${state}`.slice(0, 200), details: reason },
      systemActor(HEALTH_ACTOR),
      HEALTH_ACTOR,
    ).catch((error: Error) => {
      log.warn({ err: error.message, instance: instance.name, version }, 'could not file the problem for an unhealthy slot');
      return undefined;
    });
    await audit(
      instance,
      'health.rollback',
      version,
      reason,
      {
        color,
        deployment: deploymentId,
        rollback: outcome.deployment.id,
        problem: problem?.id ?? null,
        state,
        observations: episode.seen,
        other: { color: other, version: warm.version, state: otherSeen.state },
        slots: seen.slots.map((s) => ({ color: s.color, version: s.version, state: s.state, restarts: s.restarts ?? 0 })),
      },
      { before: { version, color }, after: { version: warm.version, color: other } },
    );
    log.warn({ instance: instance.name, version, state, to: warm.version }, 'active slot unhealthy: rolled back to the warm slot');
    return true;
  }

  async function inspect(instance: InstanceRecord, seen: RuntimeInstance): Promise<HealthFinding | undefined> {
    const color = instance.activeColor!;
    const record = instance.slots[color];
    const slot = describeSlot(seen, color);
    // The runtime and the store disagree (a flip being recorded, a slot being replaced): judge
    // only what both say is live.
    if (!record || !slot || seen.active !== color || slot.version !== record.version) return undefined;
    const { state, version } = slot;
    let episode = episodes.has(instance.name) ? episodes.get(instance.name)! : await episodeFromAudit(instance.name);
    if (episode && (episode.color !== color || episode.deploymentId !== record.deploymentId)) episode = null; // the active slot changed: that episode is over
    if (state === 'healthy') {
      episodes.set(instance.name, null);
      if (!episode?.reported || episode.acted) return undefined;
      await audit(instance, 'slot.recovered', version, null, { color, deployment: record.deploymentId, state });
      log.info({ instance: instance.name, version, color }, 'active slot healthy again');
      return { instance: instance.name, color, version, state, action: 'recovered' };
    }
    if (!BAD_STATES.has(state)) {
      // starting, stopping…: no verdict either way; an episode in progress stays open.
      episodes.set(instance.name, episode);
      return undefined;
    }
    episode ??= { color, deploymentId: record.deploymentId, seen: 0, reported: false, acted: false };
    episode.seen += 1;
    episodes.set(instance.name, episode);
    let action: HealthFinding['action'] = 'watching';
    if (!episode.reported) {
      const other = describeSlot(seen, otherColor(color));
      await audit(instance, 'slot.unhealthy', version, `the active slot of ${version} is ${state}`, {
        color,
        deployment: record.deploymentId,
        version,
        state,
        restarts: slot.restarts ?? 0,
        other: other ? { color: other.color, version: other.version, state: other.state } : null,
      });
      episode.reported = true;
      action = 'reported';
      log.warn({ instance: instance.name, version, color, state, other: other?.state ?? null }, 'active slot unhealthy');
    }
    const due = GONE_STATES.has(state) || episode.seen >= 2;
    if (options.rollbackOnUnhealthy && due && !episode.acted && (await rollBack(instance, color, record.deploymentId, version, state, seen, episode))) {
      action = 'rolled-back';
    }
    return { instance: instance.name, color, version, state, action };
  }

  async function pass(): Promise<HealthFinding[]> {
    const now = clock.now();
    const lease = await store.acquireLock({ instance: HEALTH_LEASE, owner, deploymentId: 'health-watcher', acquiredAt: now, expiresAt: now + 3 * options.intervalMs }, now);
    if (!lease.ok) {
      // Another replica watches: what this one remembers may be stale when it leads again.
      episodes.clear();
      return [];
    }
    const out: HealthFinding[] = [];
    const live = new Set<string>();
    for (const instance of await store.listInstances()) {
      if (options.holds?.(instance.name)) continue;
      if (!instance.activeColor) {
        if (instance.currentVersion === null || !options.onNeedsDeploy) continue;
        const lock = await store.getLock(instance.name);
        if (lock && lock.expiresAt > now) continue;
        await options.onNeedsDeploy(instance).catch((error: Error) => {
          log.warn({ err: error.message, instance: instance.name }, 'could not redeploy an instance the agent had lost');
        });
        continue;
      }
      live.add(instance.name);
      const lock = await store.getLock(instance.name);
      if (lock && lock.expiresAt > now) continue; // a deployment is changing it: judge it afterwards
      let seen: RuntimeInstance | undefined;
      try {
        seen = await runtime.describe(instance.name);
      } catch (error) {
        // With the agent down every instance would wait out the same timeout: try next pass.
        if (isCutoverError(error) && error.code === 'AGENT_UNREACHABLE') break;
        log.warn({ err: (error as Error).message, instance: instance.name }, 'health check of the active slot failed');
        continue;
      }
      if (!seen) {
        const color = instance.activeColor;
        try {
          if (options.onLost && (await options.onLost(instance))) {
            out.push({ instance: instance.name, color, version: instance.slots[color]?.version ?? instance.currentVersion ?? '', state: 'unknown', action: 'lost' });
          }
        } catch (error) {
          log.warn({ err: (error as Error).message, instance: instance.name }, 'could not route an instance the agent did not know');
        }
        continue;
      }
      try {
        const finding = await inspect(instance, seen);
        if (finding) out.push(finding);
      } catch (error) {
        log.warn({ err: (error as Error).message, instance: instance.name }, 'health check of the active slot failed');
      }
    }
    for (const name of episodes.keys()) if (!live.has(name)) episodes.delete(name);
    return out;
  }

  const watcher: HealthWatcher = {
    check() {
      // One pass at a time: a slow pass delays the next rather than overlapping it.
      running ??= pass()
        .catch((error: Error) => {
          log.warn({ err: error.message }, 'health pass failed');
          return [];
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    start() {
      if (timer) return;
      timer = setInterval(() => void watcher.check(), options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      await store.releaseLock(HEALTH_LEASE, owner).catch(() => false);
    },
  };
  return watcher;
}
