import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isCutoverError, systemActor, withReason } from '../shared/index.ts';
import type { Clock, Logger } from '../shared/index.ts';
import type { Store } from '../store/index.ts';
import type { Deployer, Runtime } from '../deploy/index.ts';
import { explain, planFleet } from '../fleet/index.ts';
import type { FleetPlan } from '../fleet/index.ts';
import { duePromotions, getFleetPolicy, promote, readFleetPolicy, reportProblem } from '../control/index.ts';
import { SCHEDULER_ACTOR, loadPlanInput } from './plan-input.ts';
import type { PendingConfig } from './plan-input.ts';

/** The lease row that makes one server replica the scheduler (a name no instance can have). */
export const LEADER_LEASE = '~fleet-scheduler';

export interface TickReport {
  at: number;
  /** False when another replica holds the lease: this one did nothing. */
  leader: boolean;
  enabled: boolean;
  promoted: Array<{ app: string; channel: string; version: string }>;
  halted: Array<{ app: string; version: string; problemId: number | null }>;
  started: Array<{ instance: string; from: string | null; to: string; deploymentId: string }>;
  /** Upgrades that could not start (e.g. someone deployed by hand meanwhile). */
  skipped: Array<{ instance: string; code: string; message: string }>;
  /** Set when upgrades were due but the agent did not answer: none was started, none counts as failed. */
  agentUnreachable?: string;
  counts: FleetPlan['counts'];
}

/** A pass that did nothing (yet): what a follower, a disabled policy or a failed pass reports. */
const idleReport = (at: number): TickReport => ({ at, leader: false, enabled: false, promoted: [], halted: [], started: [], skipped: [], counts: {} });

export interface SchedulerOptions {
  store: Store;
  deployer: Deployer;
  clock: Clock;
  log: Logger;
  /** Time between ticks. */
  intervalMs: number;
  /** Identifies this replica in the lease. */
  owner?: string;
  /**
   * Asked once before starting upgrades: when the agent does not answer, the tick starts none, so
   * an agent outage neither fills the history with failed deployments nor eats failure budgets.
   */
  runtime?: Pick<Runtime, 'describe'>;
  /** Instances whose app config changed since their live slot started: with `applyAppConfig`, due in their window. */
  pendingConfig?: PendingConfig;
}

export interface Scheduler {
  /** One reconcile pass: lease, automatic promotions, plan, halts, upgrades. Never throws. */
  tick(): Promise<TickReport>;
  /** The plan as of `at` (default now), changing nothing. */
  plan(at?: number): Promise<FleetPlan>;
  /** Starts ticking every `intervalMs`. */
  start(): void;
  /** Stops ticking and waits for a tick in progress; gives the lease up. */
  stop(): Promise<void>;
  lastReport(): TickReport | undefined;
}

/**
 * The fleet scheduler's shell: the planner (`planFleet`, pure) decides; this acts. Only the replica
 * holding the lease acts, so several servers never double-act; the lease lasts three intervals and
 * is renewed every tick, so a crashed leader is replaced within that time.
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { store, deployer, clock, log } = options;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = options.intervalMs * 3;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<TickReport> | undefined;
  let last: TickReport | undefined;
  let loading: Promise<void> | undefined;

  /**
   * Reads the stored policy once, as the server starts, to log what a newer version renamed in it
   * (it keeps working under the new names until an admin sets it again). An invalid stored policy
   * is not logged here: every tick reports it.
   */
  async function warnDeprecated(): Promise<void> {
    const read = await readFleetPolicy(store).catch(() => undefined);
    for (const warning of read?.warnings ?? []) log.warn({ setting: 'fleet.policy' }, `the stored fleet policy: ${warning}; set it again with \`cutover fleet policy\` to store the new name`);
  }

  async function autoPromote(now: number): Promise<TickReport['promoted']> {
    const [apps, channels, pointers, moves, openProblems] = await Promise.all([
      store.listApps(),
      store.listChannels(),
      store.listChannelPointers(),
      store.listChannelMoves(),
      store.listProblems({ status: 'open' }),
    ]);
    if (!channels.some((c) => c.policy.autoPromote)) return [];
    const promoted: TickReport['promoted'] = [];
    for (const due of duePromotions({ apps, channels, pointers, moves, openProblems, now })) {
      try {
        const result = await promote(
          { store, clock },
          { app: due.app, version: due.version, reason: `automatic: the "${due.channel}" policy passed`, force: false },
          due.channel,
          systemActor(SCHEDULER_ACTOR),
        );
        if (result.changed) promoted.push({ app: due.app, channel: due.channel, version: due.version });
      } catch (error) {
        log.warn({ err: (error as Error).message, ...due }, 'automatic promotion failed');
      }
    }
    return promoted;
  }

  async function reconcile(): Promise<TickReport> {
    const now = clock.now();
    const report = idleReport(now);
    const lease = await store.acquireLock({ instance: LEADER_LEASE, owner, deploymentId: 'scheduler', acquiredAt: now, expiresAt: now + leaseMs }, now);
    if (!lease.ok) return report;
    report.leader = true;
    const policy = await getFleetPolicy(store);
    report.enabled = policy.enabled;
    if (!policy.enabled) return report;

    report.promoted = await autoPromote(now);
    const plan = planFleet(await loadPlanInput(store, policy, now, options.pendingConfig));
    report.counts = plan.counts;

    for (const h of plan.halts) {
      const problem = await reportProblem(
        { store, clock },
        { app: h.app, version: h.version, title: `Rollout halted: ${h.reason}`.slice(0, 200), details: h.reason },
        systemActor(SCHEDULER_ACTOR),
        'scheduler',
      ).catch((error: Error) => {
        log.warn({ err: error.message, app: h.app, version: h.version }, 'could not file the problem for a halt');
        return undefined;
      });
      const halt = await store.insertHalt(
        { app: h.app, version: h.version, reason: h.reason, problemId: problem?.id ?? null, haltedAt: now, haltedBy: SCHEDULER_ACTOR },
        {
          at: now,
          actor: SCHEDULER_ACTOR,
          action: 'fleet.halt',
          subject: `${h.app}@${h.version}`,
          app: h.app,
          version: h.version,
          reason: h.reason,
          before: { halted: false },
          after: { halted: true },
          details: { failures: h.failures, attempted: h.attempted, problem: problem?.id ?? null },
        },
      );
      if (halt) {
        report.halted.push({ app: h.app, version: h.version, problemId: halt.problemId });
        log.warn({ app: h.app, version: h.version, reason: h.reason }, 'rollout halted by the failure budget');
      }
    }

    // Each due upgrade's machine must answer: one that does not is left for a later tick, not
    // counted as a failure; when none answers, nothing starts and the report says why.
    let due = plan.upgrades;
    if (due.length && options.runtime) {
      const runtime = options.runtime;
      const answers = await Promise.all(due.map((e) => runtime.describe(e.instance).then(() => undefined, (error: Error) => error.message)));
      const unreachable = answers.filter((a) => a !== undefined);
      if (unreachable.length === due.length) {
        report.agentUnreachable = unreachable[0]!;
        log.warn({ err: report.agentUnreachable, due: due.length }, 'upgrades are due but the agent does not answer; none started');
        return report;
      }
      if (unreachable.length) log.warn({ instances: due.filter((_, i) => answers[i] !== undefined).map((e) => e.instance), err: unreachable[0] }, 'upgrades are due on machines that do not answer; left for a later tick');
      due = due.filter((_, i) => answers[i] === undefined);
    }
    for (const entry of due) {
      if (entry.decision.kind !== 'upgrade') continue;
      const { from, to } = entry.decision;
      try {
        const d = await deployer.deploy({
          instance: entry.instance,
          version: to,
          by: withReason(systemActor(SCHEDULER_ACTOR), `scheduled: ${explain(entry, now, { maxAttempts: policy.retry.maxAttempts })}`.slice(0, 500)),
        });
        report.started.push({ instance: entry.instance, from, to, deploymentId: d.id });
      } catch (error) {
        const code = isCutoverError(error) ? error.code : 'INTERNAL';
        report.skipped.push({ instance: entry.instance, code, message: (error as Error).message });
      }
    }
    if (report.started.length || report.halted.length || report.promoted.length) {
      log.info({ started: report.started.length, halted: report.halted.length, promoted: report.promoted.length }, 'fleet tick');
    }
    return report;
  }

  const scheduler: Scheduler = {
    tick() {
      // One tick at a time: a slow tick delays the next rather than overlapping it.
      running ??= reconcile()
        .catch((error: Error): TickReport => {
          log.warn({ err: error.message }, 'fleet tick failed');
          return idleReport(clock.now());
        })
        .then((report) => {
          last = report;
          return report;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    async plan(at) {
      const now = at ?? clock.now();
      return planFleet(await loadPlanInput(store, await getFleetPolicy(store), now, options.pendingConfig));
    },
    start() {
      if (timer) return;
      loading ??= warnDeprecated();
      timer = setInterval(() => void scheduler.tick(), options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await loading;
      await running;
      await store.releaseLock(LEADER_LEASE, owner).catch(() => false);
    },
    lastReport: () => last,
  };
  return scheduler;
}
