import { setTimeout as delay } from 'node:timers/promises';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { DeploymentRecord, StepRecord, Store } from '../store/index.ts';
import { analyse, diffCounters } from './analysis.ts';
import type { Analysis, AnalysisThresholds, CounterWindow } from './analysis.ts';
import type { Runtime, RuntimeColorStats, RuntimeInstanceStats } from './runtime.ts';
import type { Journal } from './deployment-journal.ts';
import { resumedStep } from './steps.ts';

/** Audit actions through which anyone, on any replica, steers a running deployment. */
export const ABORT_ACTION = 'deployment.abort';
export const RESUME_ACTION = 'deployment.resume';

/** What has been asked of a running deployment so far. */
export interface Steering {
  abort?: { at: number; actor: string; reason?: string };
  /** Names of the steps whose hold someone ended. */
  resumed: Set<string>;
}

/** The router's counters of a colour as the analysis reads them. */
export function countersOf(c: RuntimeColorStats): CounterWindow {
  const r = c.responses;
  return {
    requests: c.requests,
    byClass: { '1xx': r['1xx'] ?? 0, '2xx': r['2xx'] ?? 0, '3xx': r['3xx'] ?? 0, '4xx': r['4xx'] ?? 0, '5xx': r['5xx'] ?? 0 },
    failed: r.failed ?? 0,
    latency: { bucketsMs: c.latency.bucketsMs, counts: c.latency.counts },
    epoch: c.since,
  };
}

export interface StepHoldDeps {
  store: Store;
  runtime: Pick<Runtime, 'stats'>;
  clock: Clock;
  pollMs: number;
  sleep?: (ms: number) => Promise<void>;
  thresholds?: Partial<AnalysisThresholds>;
  /** Renews the lease (at most every few seconds while holding) and persists what the step waits for. */
  journal: Pick<Journal, 'renew' | 'save'>;
  log?: { warn(obj: object, msg: string): void };
}

const abortedError = (d: DeploymentRecord, abort: NonNullable<Steering['abort']>): CutoverError =>
  new CutoverError(
    'DEPLOYMENT_ABORTED',
    `${abort.actor} aborted the deployment of ${d.toVersion}${abort.reason ? ` (${abort.reason})` : ''}; ` +
      `${d.fromVersion ? `${d.fromVersion} serves everyone again` : 'nothing was serving'}`,
    { details: { actor: abort.actor, ...(abort.reason ? { reason: abort.reason } : {}) } },
  );

/**
 * How a deployment waits between weighted steps and notices abort and resume requests. Requests are
 * audit entries (`deployment.abort`, `deployment.resume` with `details.deployment`), so they reach
 * the deployment from any control-plane replica and are audited by construction; `wake` makes one
 * made in this process take effect at once instead of at the next poll.
 */
export function createStepHold(deps: StepHoldDeps) {
  const { store, clock } = deps;
  const wakers = new Map<string, Set<() => void>>();
  const sleep = deps.sleep ?? ((ms: number) => delay(ms, undefined, { ref: false }));

  function pause(id: string, ms: number): Promise<void> {
    let set = wakers.get(id);
    if (!set) wakers.set(id, (set = new Set()));
    const waiters = set;
    return new Promise<void>((resolve) => {
      const done = () => {
        waiters.delete(done);
        if (waiters.size === 0 && wakers.get(id) === waiters) wakers.delete(id);
        resolve();
      };
      waiters.add(done);
      void sleep(ms).then(done, done);
    });
  }

  async function steering(d: DeploymentRecord): Promise<Steering> {
    const entries = await store.listAudit({ instance: d.instance, since: d.createdAt, limit: 500 });
    const result: Steering = { resumed: new Set() };
    for (const e of entries) {
      if (e.details.deployment !== d.id) continue;
      if (e.action === ABORT_ACTION && !result.abort) {
        result.abort = { at: e.at, actor: e.actor, ...(e.reason ? { reason: e.reason } : {}) };
      } else if (e.action === RESUME_ACTION && typeof e.details.step === 'string') result.resumed.add(e.details.step);
    }
    return result;
  }

  /** Throws DEPLOYMENT_ABORTED if an abort was asked; records who asked on the deployment. */
  async function checkAbort(d: DeploymentRecord): Promise<Steering> {
    const s = await steering(d);
    if (s.abort) {
      d.abort = s.abort;
      throw abortedError(d, s.abort);
    }
    return s;
  }

  /**
   * Runs a step's work, looking for an abort request every `pollMs` meanwhile (the caller looked
   * just before starting it): an abort rejects at once (the work is left to settle on its own; the
   * failure path stops what it started).
   */
  async function abortable<T>(d: DeploymentRecord, work: Promise<T>): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
      wakers.get(d.id)?.forEach((wake) => wake());
    });
    watched.catch(() => undefined);
    while (!settled) {
      await Promise.race([watched, pause(d.id, deps.pollMs)]);
      if (!settled) await checkAbort(d);
    }
    return watched;
  }

  function analyseStep(d: DeploymentRecord, before: RuntimeInstanceStats | undefined, now: RuntimeInstanceStats | undefined): Analysis | undefined {
    const pick = (s: RuntimeInstanceStats | undefined, color: string | null, deploymentId?: string) =>
      s?.colors.find((c) => c.color === color && (deploymentId === undefined || c.deploymentId === deploymentId));
    const cand = pick(now, d.toColor);
    const base = pick(now, d.fromColor);
    if (!cand) return undefined;
    const window = (c: RuntimeColorStats, at: RuntimeColorStats | undefined) =>
      at && at.since === c.since ? diffCounters(countersOf(c), countersOf(at)) : countersOf(c);
    return analyse(
      {
        candidate: window(cand, pick(before, d.toColor)),
        baseline: base ? window(base, pick(before, d.fromColor)) : null,
      },
      deps.thresholds,
    );
  }

  /**
   * Holds a weighted step: `pauseMs` (or until resumed when null). With analysis, the new colour is
   * compared with the old one over the step at every poll; a breach throws ANALYSIS_FAILED at once.
   * When the pause ends without enough requests for a verdict, the step keeps holding up to three
   * pauses (at least a minute) for one, then waits for `resume`: too little traffic is never a pass.
   * A step resumed on another replica counts its time from its first start; its analysis compares
   * the colours from the resume (`before`: the counters then).
   */
  async function hold(
    d: DeploymentRecord,
    step: StepRecord,
    options: { pauseMs: number | null; analysis: boolean; before?: RuntimeInstanceStats },
  ): Promise<Record<string, unknown>> {
    // Resumed on another replica: the hold keeps what is left of its time, counted from the step's start.
    const start = resumedStep(step) && step.startedAt !== undefined ? step.startedAt : clock.now();
    const inconclusiveLimitMs = options.pauseMs === null ? 0 : Math.max(options.pauseMs * 3, 60_000);
    let waitingForResume = options.pauseMs === null;
    let lastRenew = start;
    let last: Analysis | undefined;
    const summary = () =>
      last ? { verdict: last.verdict, candidate: last.snapshot.candidate, baseline: last.snapshot.baseline, reasons: last.reasons } : undefined;
    step.detail = {
      ...step.detail,
      holding: waitingForResume ? 'until resumed' : new Date(start + (options.pauseMs as number)).toISOString(),
    };
    await deps.journal.save(d);
    for (;;) {
      const s = await checkAbort(d);
      const heldMs = clock.now() - start;
      if (s.resumed.has(step.name)) return { heldMs, resumed: true, ...(last ? { analysis: summary() } : {}) };
      if (options.analysis) {
        last = analyseStep(d, options.before, await deps.runtime.stats(d.instance));
        if (last?.verdict === 'fail') {
          const reasons = last.reasons.filter((r) => r.kind === 'breach').map((r) => r.message);
          throw new CutoverError(
            'ANALYSIS_FAILED',
            `${d.toVersion} breached the analysis at ${step.name.replace('shift-', '')}%: ${reasons.join('; ')}; ` +
              `${d.fromVersion ?? 'the old colour'} serves everyone again`,
            { details: { step: step.name, analysis: last } },
          );
        }
      }
      if (!waitingForResume && heldMs >= (options.pauseMs as number)) {
        if (!options.analysis || last?.verdict === 'pass') return { heldMs, ...(last ? { analysis: summary() } : {}) };
        if (heldMs >= inconclusiveLimitMs) {
          waitingForResume = true;
          const why = last?.reasons.find((r) => r.kind === 'insufficient')?.message ?? 'no traffic reached the new colour';
          step.detail = { ...step.detail, holding: 'until resumed', analysis: summary(), why: `analysis inconclusive: ${why}` };
          await deps.journal.save(d);
          deps.log?.warn({ deployment: d.id, instance: d.instance, step: step.name }, `analysis inconclusive (${why}); waiting for resume or abort`);
        }
      }
      if (clock.now() - lastRenew > 5_000) {
        await deps.journal.renew(d);
        lastRenew = clock.now();
      }
      await pause(d.id, deps.pollMs);
    }
  }

  return {
    hold,
    abortable,
    checkAbort,
    /** Ends a pause of that deployment in this process now (after its request was recorded). */
    wake(id: string): void {
      wakers.get(id)?.forEach((wake) => wake());
    },
  };
}


export type StepHold = ReturnType<typeof createStepHold>;
