import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isCutoverError, systemActor, withReason } from '../shared/index.ts';
import type { Clock, Logger } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { DeploymentRecord, Store } from '../store/index.ts';
import { analyse, bakeDecision, countersOf, flippedAt, verifyPending } from '../deploy/index.ts';
import type { AnalysisThresholds, Deployer, Runtime } from '../deploy/index.ts';
import { reportProblem } from '../control/index.ts';
import { createRollbackGuard } from './rollback-guard.ts';
import type { RollbackGuard } from './rollback-guard.ts';

/** The actor of automatic rollbacks and their problems and audit entries. */
export const ANALYSIS_ACTOR = 'analysis';

/** The lease of the one replica that bakes (a lock row, like the scheduler's and the health watcher's). */
export const BAKE_LEASE = '~bake-watcher';

export interface BakeOptions {
  store: Store;
  deployer: Deployer;
  runtime: Pick<Runtime, 'stats'>;
  clock: Clock;
  log: Logger;
  /** How long after the flip the new colour is watched (default 5 min). 0 turns the watcher off. */
  bakeMs: number;
  /** How often the counters are read. */
  intervalMs: number;
  thresholds?: Partial<AnalysisThresholds>;
  /** Shared with the health watcher so the two never roll one deployment back twice. */
  guard?: RollbackGuard;
  /** Whether an instance must be left alone this pass: a local rollback of it is not recorded yet (see the health watcher's). */
  holds?: (instance: string) => boolean;
  /** This watcher in the {@link BAKE_LEASE} (default: host, pid and a random suffix). */
  owner?: string;
}

export interface BakeWatcher {
  /** One pass over the deployments inside their bake window. Never throws. */
  check(): Promise<Array<{ deployment: string; instance: string; action: string; verdict: string }>>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Watches each new release for `bakeMs` after its flip: reads the router's counters of the new
 * colour (candidate) and of the old one (baseline: its traffic before the flip), runs `analyse`
 * (pure) and `bakeDecision`. A breach rolls back to the warm slot at once (actor `analysis`),
 * files a problem against the release and writes the metric snapshot into the audit entry
 * `bake.rollback`; a pass at the end writes `bake.passed`. Which deployments were judged is read
 * back from the audit log, so a server restart neither forgets a bake nor judges one twice.
 */
/**
 * Whether `d` is in its bake: a deployment that succeeded, or one still running its `verify` test
 * after its flip (the bake runs beside it; whichever fails first rolls back, through the guard).
 */
function baking(d: DeploymentRecord): boolean {
  if (d.kind !== 'deploy' || d.actor === ANALYSIS_ACTOR) return false;
  if (d.status === 'running') return flippedAt(d) !== undefined && verifyPending(d);
  return (d.status === 'succeeded' || d.status === 'partial') && d.finishedAt !== undefined;
}

/** The bake watches from the flip (deployments recorded before steps had timings: from their end). */
const bakeStart = (d: DeploymentRecord): number => flippedAt(d) ?? d.finishedAt ?? d.createdAt;

export function createBakeWatcher(options: BakeOptions): BakeWatcher {
  const { store, deployer, runtime, clock, log } = options;
  const judged = new Set<string>();
  const guard = options.guard ?? createRollbackGuard({ store, deployer, clock });
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function alreadyJudged(d: DeploymentRecord): Promise<boolean> {
    if (judged.has(d.id)) return true;
    const entries = await store.listAudit({ instance: d.instance, since: d.finishedAt ?? d.createdAt, limit: 200 });
    const found = entries.some((e) => e.action.startsWith('bake.') && e.details.deployment === d.id);
    if (found) judged.add(d.id);
    return found;
  }

  async function judge(d: DeploymentRecord, now: number) {
    const stats = await runtime.stats(d.instance);
    if (!stats) return undefined;
    const candidate = stats.colors.find((c) => c.color === d.toColor && c.deploymentId === d.id);
    if (!candidate) {
      // The colour runs another deployment's slot (a flip back to a warm slot keeps the slot it
      // had): there is nothing of this deployment to judge, now or at a later pass.
      judged.add(d.id);
      return undefined;
    }
    const old = d.fromColor ? stats.colors.find((c) => c.color === d.fromColor) : undefined;
    const analysis = analyse({ candidate: countersOf(candidate), baseline: old ? countersOf(old) : null }, options.thresholds);
    const action = bakeDecision(analysis, { elapsedMs: now - bakeStart(d), bakeMs: options.bakeMs });
    if (action === 'continue' || action === 'extend') return { action, verdict: analysis.verdict };
    const breaches = analysis.reasons.filter((r) => r.kind === 'breach').map((r) => r.message);
    const base = { at: now, instance: d.instance, app: d.app ?? null, version: d.toVersion };
    const analysisActor = systemActor(ANALYSIS_ACTOR);
    if (action === 'rollback') {
      const reason = `automatic rollback: ${breaches.join('; ')}`.slice(0, 500);
      let rollbackId: string | null = null;
      const outcome = await guard.rollback({ instance: d.instance, color: d.toColor, deploymentId: d.id }, { instance: d.instance, by: withReason(systemActor(ANALYSIS_ACTOR), reason) });
      // Locked: a deployment (the health watcher's rollback, say) holds the instance: judge again
      // at the next pass. Moved: the instance no longer serves this deployment: nothing to undo.
      if (!outcome.ok && outcome.code === 'INSTANCE_LOCKED') return { action: 'continue' as const, verdict: analysis.verdict };
      judged.add(d.id);
      if (!outcome.ok && outcome.code === 'MOVED') {
        log.info({ instance: d.instance, deployment: d.id }, 'bake breach on a deployment that no longer serves: nothing to roll back');
        return { action: 'moved' as const, verdict: analysis.verdict };
      }
      if (outcome.ok) rollbackId = outcome.deployment.id;
      else log.warn({ err: outcome.message, instance: d.instance }, 'automatic rollback could not start');
      const problem = d.app
        ? await reportProblem(
            { store, clock },
            { app: d.app, version: d.toVersion, title: `Rolled back automatically on ${d.instance}: ${breaches[0] ?? 'bake analysis failed'}`.slice(0, 200), details: breaches.join('\n') },
            systemActor(ANALYSIS_ACTOR),
            ANALYSIS_ACTOR,
          ).catch(() => undefined)
        : undefined;
      await store.appendAudit(
        auditEntry(analysisActor, 'bake.rollback', d.instance, {
          ...base,
          reason,
          before: { version: d.toVersion, color: d.toColor },
          after: { version: d.fromVersion, color: d.fromColor },
          details: { deployment: d.id, rollback: rollbackId, problem: problem?.id ?? null, verdict: analysis.verdict, reasons: analysis.reasons, snapshot: analysis.snapshot },
        }),
      );
      log.warn({ instance: d.instance, version: d.toVersion, reasons: breaches }, 'bake analysis failed: rolled back');
    } else {
      judged.add(d.id);
      await store.appendAudit(
        auditEntry(analysisActor, 'bake.passed', d.instance, {
          ...base,
          reason: analysis.verdict === 'pass' ? null : 'not enough traffic to judge: promoted unverified',
          details: { deployment: d.id, verdict: analysis.verdict, reasons: analysis.reasons, snapshot: analysis.snapshot },
        }),
      );
    }
    return { action, verdict: analysis.verdict };
  }

  async function pass() {
    const now = clock.now();
    const out: Array<{ deployment: string; instance: string; action: string; verdict: string }> = [];
    // One replica bakes: two would judge one release twice (two `bake.*` entries). The lease lasts
    // three passes, so when its replica dies another takes over and carries on from the store.
    const lease = await store.acquireLock({ instance: BAKE_LEASE, owner, deploymentId: 'bake-watcher', acquiredAt: now, expiresAt: now + 3 * options.intervalMs }, now);
    if (!lease.ok) return out;
    // Deployments that finished inside the longest bake (extensions included), latest per instance.
    // Newest first, every status: a newer deployment of an instance (running or failed) ends the
    // bake of the one before it.
    const recent = await store.listDeployments({ since: now - 4 * options.bakeMs - 86_400_000, limit: 1000 });
    const latest = new Map<string, DeploymentRecord>();
    for (const d of recent) if (!latest.has(d.instance)) latest.set(d.instance, d);
    for (const d of latest.values()) {
      if (!baking(d) || options.holds?.(d.instance)) continue;
      if (now - bakeStart(d) > 3 * options.bakeMs) continue;
      if (await alreadyJudged(d)) continue;
      try {
        const result = await judge(d, now);
        if (result) out.push({ deployment: d.id, instance: d.instance, ...result });
      } catch (error) {
        if (!isCutoverError(error) || error.code !== 'AGENT_UNREACHABLE') log.warn({ err: (error as Error).message, instance: d.instance }, 'bake check failed');
      }
    }
    return out;
  }

  const watcher: BakeWatcher = {
    check() {
      const p = pass().catch((error: Error) => {
        log.warn({ err: error.message }, 'bake pass failed');
        return [];
      });
      running = p;
      return p;
    },
    start() {
      if (timer || options.bakeMs <= 0) return;
      timer = setInterval(() => {
        if (!running) void watcher.check().finally(() => (running = undefined));
      }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      await store.releaseLock(BAKE_LEASE, owner).catch(() => false);
    },
  };
  return watcher;
}
