import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { AcquireOptions, DeploymentRecord, InstanceRecord, LeaseHolder, LockRecord, RolloutSpec, StepRecord, Store } from '../store/index.ts';
import type { Analysis, AnalysisThresholds } from './analysis.ts';
import { abandonSlot, expiredWarmSlots, finaliseInstance } from './instance-transitions.ts';
import { planDeployment, planRollback } from './plan-deployment.ts';
import type { DeploymentPlan, PlanResult } from './plan-deployment.ts';
import type { Runtime } from './runtime.ts';
import { describeRollout, shiftStepPercent } from './rollout.ts';
import { ABORT_ACTION, RESUME_ACTION, createStepHold } from './step-hold.ts';
import { createRecovery } from './recovery.ts';
import { createLeaseKeeper } from './lease-keeper.ts';
import { deploymentEntry, flippedIn, settleFailed } from './deployment-audit.ts';
import type { InstancePosition } from './deployment-audit.ts';

export interface DeployerOptions {
  store: Store;
  runtime: Runtime;
  clock: Clock;
  /** Streams a release artifact from the control plane's artifact store. */
  openArtifact: (digest: string) => Readable;
  /** How long the previous slot stays warm after a flip. */
  rollbackWindowMs: number;
  /** Lease length; renewed at every step and by a heartbeat every third of it while a deployment runs. */
  lockTtlMs: number;
  /** Who this server process is, written into every lease it takes (default: a random id, no replica address). */
  holder?: LeaseHolder;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** How often a running deployment looks for an abort or resume request, and re-runs a step's analysis. Default 1000. */
  pollMs?: number;
  /** Waits `ms` (default: a timer); tests pass one that moves a manual clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Thresholds of the analysis between weighted steps (the bake's, from the config). */
  analysisThresholds?: Partial<AnalysisThresholds>;
  /** Called when a weighted step's analysis fails, before the traffic goes back (files the problem). */
  onAnalysisFailed?: (deployment: DeploymentRecord, analysis: Analysis) => Promise<void>;
}

export interface DeployRequest {
  instance: string;
  actor: string;
  reason?: string;
  /** The API request that asked for it, carried into the audit entries. */
  requestId?: string;
}

/** Who steers a running deployment (abort, resume). */
export interface SteerRequest {
  actor: string;
  reason?: string;
  /** An `Actor` (shared/actor.ts) fits: null for automatic steering. */
  requestId?: string | null;
}

/** Runs deployments: plans them, records every step before acting on it, and acts through the runtime. */
export interface Deployer {
  /** With `rollout`, a gradual cutover (see {@link RolloutSpec}); normalise it with `normaliseRollout` first. */
  deploy(request: DeployRequest & { version: string; rollout?: RolloutSpec }): Promise<DeploymentRecord>;
  /**
   * Asks a running deployment to stop before its flip: it puts every client back on the old colour,
   * stops the new slot and ends `aborted`. Takes effect within `pollMs`, on any replica. Throws
   * DEPLOYMENT_NOT_RUNNING once it has finished or flipped (roll back instead).
   */
  abort(id: string, request: SteerRequest): Promise<DeploymentRecord>;
  /** Ends the hold of the weighted step a deployment is at (a manual pause, or a timed one early). */
  resume(id: string, request: SteerRequest): Promise<DeploymentRecord>;
  /**
   * Goes back to the version before the current one (a flip to the warm slot inside the window), or
   * to `to`, a version the instance ran before. Refuses ALREADY_ROLLED_BACK right after a rollback.
   */
  rollback(request: DeployRequest & { to?: string }): Promise<DeploymentRecord>;
  /** Resolves with the deployment once it has finished, or as it stands after `timeoutMs`. */
  wait(id: string, timeoutMs: number): Promise<DeploymentRecord | undefined>;
  /**
   * Settles deployments a dead server left running: those whose lease expired or was held by this
   * replica's previous incarnation (see `recoveryVerdict`). A live replica's deployment is left alone.
   * The server runs it at start and on a timer; deploy and rollback run it for their instance first.
   * Returns how many it settled.
   */
  recover(): Promise<number>;
  /** Drains and stops warm slots whose rollback window has ended. */
  stopExpiredWarmSlots(): Promise<number>;
  /** Waits for running deployments of this process to settle. */
  idle(): Promise<void>;
}

const newId = () => `dpl_${randomBytes(6).toString('hex')}`;

export function createDeployer(options: DeployerOptions): Deployer {
  const { store, runtime, clock } = options;
  const running = new Map<string, Promise<DeploymentRecord>>();
  const holder: LeaseHolder = options.holder ?? { serverId: `srv_${randomBytes(6).toString('hex')}`, replica: null, pid: process.pid };
  const leases = createLeaseKeeper({ store, clock, lockTtlMs: options.lockTtlMs, holder, ...(options.log ? { log: options.log } : {}) });
  const { lockFor, takeLock } = leases;
  const steps = createStepHold({
    store,
    runtime,
    clock,
    pollMs: options.pollMs ?? 1000,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.analysisThresholds ? { thresholds: options.analysisThresholds } : {}),
    renew: (d) => leases.renew(d.id),
    save,
    ...(options.log ? { log: options.log } : {}),
  });

  async function mustGetInstance(name: string): Promise<InstanceRecord> {
    const instance = await store.getInstance(name);
    if (!instance) {
      throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"; see \`cutover instance list\``, {
        details: { instance: name },
      });
    }
    return instance;
  }

  async function begin(
    request: DeployRequest,
    result: PlanResult,
    instance: InstanceRecord,
    rollout?: RolloutSpec,
  ): Promise<DeploymentRecord> {
    if (!result.ok) throw result.error;
    const plan: DeploymentPlan = result.plan;
    const release = await store.getRelease(instance.app, plan.toVersion);
    if (!release) {
      const known = (await store.listReleases(instance.app)).map((r) => r.version).slice(0, 10);
      throw new CutoverError(
        'RELEASE_NOT_FOUND',
        `app "${instance.app}" has no release ${plan.toVersion}` +
          (known.length ? `; published: ${known.join(', ')}` : '; publish one with `cutover release publish FILE`'),
        { details: { app: instance.app, version: plan.toVersion } },
      );
    }
    const id = newId();
    const lock = lockFor(id, instance.name, request.actor);
    await takeLock(lock, { supersede: supersededBy(id) });
    const now = clock.now();
    const deployment: DeploymentRecord = {
      id,
      instance: instance.name,
      kind: plan.kind,
      strategy: plan.strategy,
      fromVersion: plan.fromVersion,
      toVersion: plan.toVersion,
      fromColor: plan.fromColor,
      toColor: plan.toColor,
      status: 'running',
      steps: plan.steps.map((name) => ({ name, status: 'pending' })),
      actor: request.actor,
      app: instance.app,
      ...(request.reason ? { reason: request.reason } : {}),
      ...(request.requestId ? { requestId: request.requestId } : {}),
      ...(rollout ? { rollout } : {}),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await store.insertDeployment(deployment);
      await audit(deployment, `${plan.kind}.start`, {
        strategy: plan.strategy,
        from: plan.fromVersion,
        to: plan.toVersion,
        ...(rollout ? { rollout: describeRollout(rollout) } : {}),
      });
    } catch (error) {
      await store.releaseLock(instance.name, lock.owner);
      throw error;
    }
    const spec = release.spec as unknown as ReleaseSpec;
    const done = execute(structuredClone(deployment), spec, lock).finally(() => running.delete(id));
    running.set(id, done);
    return deployment;
  }

  async function mustBeSteerable(id: string, what: 'abort' | 'resume'): Promise<DeploymentRecord> {
    const d = await store.getDeployment(id);
    if (!d) throw new CutoverError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}; see \`cutover status INSTANCE\``, { details: { deployment: id } });
    if (d.status !== 'running') {
      throw new CutoverError('DEPLOYMENT_NOT_RUNNING', `deployment ${id} already ${d.status}; there is nothing to ${what}`, {
        details: { deployment: id, status: d.status },
      });
    }
    if (what === 'abort' && d.steps.some((s) => s.name === 'flip' && s.status !== 'pending')) {
      throw new CutoverError(
        'DEPLOYMENT_NOT_RUNNING',
        `deployment ${id} has flipped to ${d.toVersion} already; roll back instead: \`cutover rollback ${d.instance}\``,
        { details: { deployment: id, status: d.status } },
      );
    }
    return d;
  }

  const entry = (d: DeploymentRecord, action: string, details: Record<string, unknown>, by?: SteerRequest, after?: InstancePosition) =>
    deploymentEntry(clock.now(), d, action, details, by, after);

  function audit(d: DeploymentRecord, action: string, details: Record<string, unknown>) {
    return store.appendAudit(entry(d, action, details));
  }

  const failedRecord = (d: DeploymentRecord, step: StepRecord | undefined, err: CutoverError) => settleFailed(clock.now(), d, step, err);

  /** How a deployment that takes an expired lease settles the running one that held it, in the same transaction. */
  function supersededBy(next: string): NonNullable<AcquireOptions['supersede']> {
    return (d, now) =>
      settleFailed(now, d, d.steps.find((s) => s.status === 'running'), new CutoverError('DEPLOYMENT_FAILED', 'superseded, lease expired'), {
        supersededBy: next,
      });
  }

  async function save(d: DeploymentRecord): Promise<void> {
    d.updatedAt = clock.now();
    await store.updateDeployment(d);
  }

  async function execute(d: DeploymentRecord, spec: ReleaseSpec, lock: LockRecord): Promise<DeploymentRecord> {
    const ctx = { healthySince: 0 };
    let current: StepRecord | undefined;
    // The lease is given up before the final status is recorded: whoever sees the deployment
    // finished (polling its status) can start the next one at once, without INSTANCE_LOCKED.
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await store.releaseLock(d.instance, lock.owner).catch(() => undefined);
    };
    const lost: { error?: CutoverError } = {};
    const stopHeartbeat = leases.heartbeat(d.id, lock, lost);
    try {
      for (const step of d.steps) {
        if (step.status === 'done') continue;
        current = step;
        // Renewing the lease at each step as well: a lost lease stops the deployment before it acts again.
        await leases.renew(d.id);
        // An abort is looked for before each step up to the flip (past it, undoing is a rollback),
        // during the wait for health (the failure path stops the slot, which ends that wait), and
        // by a weighted step's hold. `prepare` and `start` run to their end, so the failure path
        // never races a slot that is still being started.
        if (!d.steps.some((s) => s.name === 'flip' && s.status !== 'pending')) await steps.checkAbort(d);
        step.status = 'running';
        step.startedAt = clock.now();
        await save(d); // persisted before it is acted on
        const work = runStep(step.name, d, spec, ctx, step);
        const detail = step.name === 'health' ? await steps.abortable(d, work) : await work;
        if (lost.error) throw lost.error;
        step.status = 'done';
        step.finishedAt = clock.now();
        if (detail) step.detail = detail;
        await save(d);
      }
      stopHeartbeat();
      await release();
      d.status = 'succeeded';
      d.finishedAt = clock.now();
      await save(d);
      await audit(d, `${d.kind}.succeeded`, { to: d.toVersion, color: d.toColor });
      options.log?.info({ deployment: d.id, instance: d.instance, to: d.toVersion }, `${d.kind} succeeded`);
    } catch (error) {
      stopHeartbeat();
      if (lost.error) await leaseLost(d, current, lost.error);
      else await fail(d, current, error, release);
    } finally {
      stopHeartbeat();
      await release();
    }
    return d;
  }

  /**
   * Another deployment took this one's lease (it had expired) and settled its record in the same
   * transaction: the runtime now belongs to the new one, so nothing is stopped or flipped here.
   */
  async function leaseLost(d: DeploymentRecord, step: StepRecord | undefined, error: CutoverError): Promise<void> {
    options.log?.warn({ deployment: d.id, instance: d.instance }, `${error.message}; leaving the slots to the deployment that holds the lease`);
    const stored = await store.getDeployment(d.id).catch(() => undefined);
    if (stored && stored.status !== 'running') {
      Object.assign(d, stored);
      return;
    }
    const settled = failedRecord(d, step, error);
    await save(settled.deployment).catch(() => undefined);
    await store.appendAudit(settled.audit).catch(() => undefined);
  }

  /**
   * Settles `d` as failed. Before the flip, puts every client back on the old colour and stops the
   * new slot, unless `stopSlot` is false (recovery found that slot belongs to someone else).
   */
  async function fail(
    d: DeploymentRecord,
    step: StepRecord | undefined,
    error: unknown,
    release?: () => Promise<void>,
    effects: { stopSlot: boolean } = { stopSlot: true },
  ): Promise<void> {
    const err = isCutoverError(error)
      ? error
      : new CutoverError('DEPLOYMENT_FAILED', `step "${step?.name}" failed: ${(error as Error)?.message ?? error}`, { cause: error });
    const flipped = flippedIn(d);
    const shifted = d.steps.some((s) => (shiftStepPercent(s.name) ?? 0) > 0 && s.status !== 'pending');
    if (!flipped && shifted && d.fromColor && effects.stopSlot) {
      // Clients of a weighted step go back to the old colour before the new slot goes away.
      await runtime.flip(d.instance, d.fromColor, undefined, 'rollback').catch((e: Error) =>
        options.log?.warn({ deployment: d.id, instance: d.instance, err: e.message }, 'could not put every client back on the old colour'),
      );
    }
    if (effects.stopSlot && !flipped && d.strategy === 'start-and-flip' && d.steps.some((s) => s.name === 'start' && s.status !== 'pending')) {
      // Nothing reached users: stop the new slot; the active one was never touched.
      await runtime.stopSlot(d.instance, d.toColor).catch(() => undefined);
      const instance = await store.getInstance(d.instance);
      if (instance) await store.saveInstanceState(abandonSlot(instance, d.toColor, clock.now()));
    }
    await release?.();
    const settled = failedRecord(d, step, err);
    await save(settled.deployment).catch(() => undefined);
    await store.appendAudit(settled.audit).catch(() => undefined);
    options.log?.warn({ deployment: d.id, instance: d.instance, code: err.code }, err.message);
  }

  async function runShift(d: DeploymentRecord, step: StepRecord, percent: number): Promise<Record<string, unknown>> {
    const rollout = d.rollout ?? { steps: [percent], pauseMs: 0, analysis: false };
    // The counters at the start of the step: the analysis compares the colours over the step only.
    const before = rollout.analysis ? await runtime.stats(d.instance) : undefined;
    const shifted = percent > 0 ? await runtime.shift(d.instance, d.toColor, percent) : undefined;
    step.detail = { percent, ...(shifted ? { shiftedAt: shifted.shiftedAt } : {}) };
    options.log?.info({ deployment: d.id, instance: d.instance, percent }, `${d.toVersion} gets ${percent}% of new clients`);
    try {
      return { ...step.detail, ...(await steps.hold(d, step, { pauseMs: rollout.pauseMs, analysis: rollout.analysis, ...(before ? { before } : {}) })) };
    } catch (error) {
      if (isCutoverError(error) && error.code === 'ANALYSIS_FAILED' && options.onAnalysisFailed) {
        await options.onAnalysisFailed(d, error.details?.analysis as Analysis).catch((e: Error) =>
          options.log?.warn({ deployment: d.id, err: e.message }, 'could not record the analysis failure'),
        );
      }
      throw error;
    }
  }

  async function runStep(
    name: string,
    d: DeploymentRecord,
    spec: ReleaseSpec,
    ctx: { healthySince: number },
    step: StepRecord,
  ): Promise<Record<string, unknown> | undefined> {
    const percent = shiftStepPercent(name);
    if (percent !== undefined) return runShift(d, step, percent);
    switch (name) {
      case 'prepare': {
        const instance = await mustGetInstance(d.instance);
        await runtime.ensureInstance(instance.name, instance.hosts);
        await runtime.ensureArtifact(spec.artifact.digest, () => options.openArtifact(spec.artifact.digest));
        // The idle slot may still hold an older warm release: it is replaced, so stop it first.
        await runtime.stopSlot(d.instance, d.toColor);
        instance.slots[d.toColor] = { version: d.toVersion, status: 'starting', deploymentId: d.id };
        instance.updatedAt = clock.now();
        await store.saveInstanceState(instance);
        return undefined;
      }
      case 'start': {
        const started = await runtime.startSlot({
          instance: d.instance,
          color: d.toColor,
          version: d.toVersion,
          digest: spec.artifact.digest,
          start: spec.start,
          env: spec.env,
          health: spec.health,
          stopTimeoutMs: spec.stopTimeoutMs,
          deploymentId: d.id,
          ...(spec.drain ? { drain: spec.drain } : {}),
        });
        return { port: started.port, pid: started.pid };
      }
      case 'health': {
        const result = await runtime.waitHealthy(d.instance, d.toColor, spec.deployTimeoutMs);
        if (!result.ok) {
          throw new CutoverError(
            'DEPLOYMENT_FAILED',
            `${d.toVersion} did not become healthy on ${d.toColor}: ${result.message}; ` +
              `${d.fromVersion ? `${d.fromVersion} still serves` : 'nothing was serving'}. See \`cutover logs ${d.instance} --color ${d.toColor}\``,
            { details: { reason: result.reason, lastCheck: result.lastCheck, logTail: result.logTail } },
          );
        }
        ctx.healthySince = result.healthySince;
        return { healthySince: result.healthySince };
      }
      case 'flip': {
        let flippedAt: number;
        try {
          ({ flippedAt } = await runtime.flip(
            d.instance,
            d.toColor,
            d.strategy === 'flip-to-warm' ? d.toVersion : undefined,
            d.kind === 'rollback' ? 'rollback' : 'forward',
          ));
        } catch (error) {
          if (!isCutoverError(error) || error.code !== 'SLOT_NOT_READY') throw error;
          throw new CutoverError(
            'DEPLOYMENT_FAILED',
            `${error.message}; nothing changed. Deploy ${d.toVersion} instead with \`cutover deploy ${d.instance} ${d.toVersion}\``,
            { details: error.details, cause: error },
          );
        }
        return ctx.healthySince ? { flippedAt, overheadMs: flippedAt - ctx.healthySince } : { flippedAt };
      }
      case 'finalise': {
        const instance = await mustGetInstance(d.instance);
        await store.saveInstanceState(finaliseInstance(instance, d, clock.now(), options.rollbackWindowMs));
        return undefined;
      }
      default:
        throw new CutoverError('INTERNAL', `unknown deployment step "${name}"`);
    }
  }

  const recovery = createRecovery({
    store,
    runtime,
    clock,
    holder,
    lockTtlMs: options.lockTtlMs,
    lockFor,
    runsHere: (id) => running.has(id),
    finish: (d, spec, lock) => {
      const done = execute(d, spec, lock).finally(() => running.delete(d.id));
      running.set(d.id, done);
      return done;
    },
    fail: (d, step, error, release, effects) => fail(d, step, error, release, effects),
    ...(options.log ? { log: options.log } : {}),
  });

  return {
    async deploy(request) {
      // A deployment its server left behind is settled first (finished if users see it), so the plan starts from the truth.
      await recovery.settleAll({ instance: request.instance });
      const instance = await mustGetInstance(request.instance);
      return begin(request, planDeployment(instance, request.version, clock.now(), request.rollout), instance, request.rollout);
    },

    async abort(id, request) {
      const d = await mustBeSteerable(id, 'abort');
      await store.appendAudit(entry(d, ABORT_ACTION, {}, request));
      steps.wake(id);
      return d;
    },

    async resume(id, request) {
      const d = await mustBeSteerable(id, 'resume');
      const step = d.steps.find((s) => s.status === 'running' && shiftStepPercent(s.name) !== undefined);
      if (!step) {
        const at = d.steps.find((s) => s.status === 'running')?.name ?? 'between steps';
        throw new CutoverError('DEPLOYMENT_NOT_RUNNING', `deployment ${id} is not holding at a weighted step (it is at ${at}); nothing to resume`, {
          details: { deployment: id, step: at },
        });
      }
      await store.appendAudit(entry(d, RESUME_ACTION, { step: step.name }, request));
      steps.wake(id);
      return d;
    },

    async rollback(request) {
      await recovery.settleAll({ instance: request.instance });
      const instance = await mustGetInstance(request.instance);
      const history = await store.listDeployments({ instance: instance.name, limit: 100 });
      return begin(request, planRollback(instance, history, clock.now(), request.to), instance);
    },

    async wait(id, timeoutMs) {
      const pending = running.get(id);
      if (pending) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          timer.unref();
        });
        await Promise.race([pending, timeout]);
        clearTimeout(timer);
      }
      return store.getDeployment(id);
    },

    recover: () => recovery.settleAll(),

    async stopExpiredWarmSlots() {
      const due = expiredWarmSlots(await store.listInstances(), clock.now());
      let stopped = 0;
      for (const { instance: name, color } of due) {
        const lock = lockFor(`warm-${color}`, name, 'scheduler');
        if (!(await store.acquireLock(lock, clock.now())).ok) continue; // a deployment is running: next tick
        try {
          const instance = await mustGetInstance(name);
          const slot = instance.slots[color];
          if (slot?.status !== 'warm' || instance.activeColor === color) continue;
          await runtime.stopSlot(name, color);
          instance.slots[color] = null;
          instance.updatedAt = clock.now();
          await store.saveInstanceState(instance);
          await store.appendAudit({
            at: clock.now(),
            actor: 'scheduler',
            action: 'slot.stopped',
            subject: name,
            instance: name,
            app: instance.app,
            version: slot.version,
            reason: 'rollback window ended',
            details: { color, version: slot.version },
          });
          stopped++;
        } finally {
          await store.releaseLock(name, lock.owner);
        }
      }
      return stopped;
    },

    async idle() {
      await Promise.allSettled([...running.values()]);
    },
  };
}
