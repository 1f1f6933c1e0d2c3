import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { AcquireOptions, DeploymentMachines, DeploymentRecord, InstanceRecord, LeaseHolder, LockRecord, ReleaseRecord, RolloutSpec, Store } from '../store/index.ts';
import type { AnalysisThresholds } from './analysis.ts';
import { planDeployment, planRollback } from './plan-deployment.ts';
import type { DeploymentPlan, PlanResult } from './plan-deployment.ts';
import type { Runtime } from './runtime.ts';
import { describeRollout } from './rollout.ts';
import { ABORT_ACTION, RESUME_ACTION, createStepHold } from './step-hold.ts';
import { createRecovery, replicaName } from './recovery.ts';
import { createLeaseKeeper } from './lease-keeper.ts';
import { settleFailed } from './deployment-audit.ts';
import { createJournal } from './deployment-journal.ts';
import { failDeployment } from './fail-deployment.ts';
import { runDeployment } from './run-deployment.ts';
import type { PipelineDeps } from './run-deployment.ts';
import type { ReleaseProblem } from './step-runners.ts';
import { abortable, batchesOf, chooseTests, planSteps, rollingSteps, runningStep, shiftStepPercent } from './steps.ts';
import { spansMachines } from './runtime.ts';
import { machinesTakingPart } from './deployment-machines.ts';
import { CONVERGE_OWNER, convergeMachine } from './converge.ts';
import type { ConvergeOutcome } from './converge.ts';
import { stopExpiredWarmSlots } from './warm-slot-expiry.ts';
import { rollbackConfig } from './rollback-config.ts';
import type { ConfigIdentity, DeployConfig } from './deploy-config.ts';

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
  /** Files a problem against a deployment's release: a weighted step's analysis or a `verify` test failed (before traffic goes back). */
  fileProblem?: (deployment: DeploymentRecord, problem: ReleaseProblem) => Promise<void>;
  /**
   * Brings the instance's record up to date before a deploy or rollback is planned from it: the
   * server records the machine's local rollbacks (`LocalRollbackReconciler.run`). Never throws.
   */
  settleLocal?: (instance: string) => Promise<void>;
  /**
   * Whether the replica of a lease holder (by server id) is alive now: false (dead: its deployments
   * resume here at once), true, or undefined (cannot tell: wait for its lease to expire). On
   * PostgreSQL the server answers from each replica's session lock; absent, leases must expire.
   */
  replicaAlive?: (serverId: string) => Promise<boolean | undefined>;
  /** App config (issue 20): what a deployment records and starts its slot with. Absent: the release's `env` only. */
  appConfig?: DeployConfig;
}

export interface DeployRequest {
  instance: string;
  /** Who asked, with their reason and request id: recorded on the deployment and in its audit entries. */
  by: Actor;
  /** Deploy without the release's tests (the API lets only an admin, with a reason); recorded and audited. */
  skipTests?: boolean;
  /** Deploy to the machines that are connected, leaving out the unreachable ones (an admin's decision, like `skipTests`). */
  skipUnreachable?: boolean;
  /** Machine by machine (`maxUnavailable` at a time) instead of one barrier flip. */
  rolling?: { maxUnavailable: number; /** Machines that may fail (left on the previous release) before the rollout stops and flips back; default 0. */ maxFailures?: number };
}

/** Who steers a running deployment (abort, resume), with their reason: its audit entry says so. */
export type SteerRequest = Actor;

/** Runs deployments: plans them, records every step before acting on it, and acts through the runtime. */
export interface Deployer {
  /** With `rollout`, a gradual cutover (see {@link RolloutSpec}); normalise it with `normaliseRollout` first. */
  deploy(request: DeployRequest & { version: string; rollout?: RolloutSpec }): Promise<DeploymentRecord>;
  /**
   * Asks a running deployment to stop before its flip (it puts every client back on the old colour,
   * stops the new slot and ends `aborted`), or during its `verify` test (the test is killed and
   * everyone flips back to the warm slot). Takes effect within `pollMs`, on any replica. Throws
   * DEPLOYMENT_NOT_RUNNING once it has finished, or flipped and is past `verify` (roll back instead).
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
   * Takes over deployments a dead server left running: those whose lease expired, whose holder is
   * known dead (`replicaAlive`), or that this replica's previous incarnation held (see
   * `recoveryVerdict`), and resumes each from its last persisted step (see `resumePlan`), or settles
   * it as failed when it cannot be resumed. A live replica's deployment is left alone. The server
   * runs it at start and on a timer; deploy and rollback run it for their instance first. Returns
   * how many it took over.
   */
  recover(): Promise<number>;
  /** Drains and stops warm slots whose rollback window has ended. */
  stopExpiredWarmSlots(): Promise<number>;
  /**
   * Brings one machine of an instance to its desired state (the live release started, checked and
   * flipped to; the warm one started), under the instance's lease: `busy` while a deployment holds
   * it. Nothing on a runtime that does not span machines.
   */
  converge(instance: string, machine: string): Promise<ConvergeOutcome>;
  /** Waits for running deployments of this process to settle. */
  idle(): Promise<void>;
}

const newId = () => `dpl_${randomBytes(6).toString('hex')}`;

/** How long a deployment waits for a convergence that holds its instance's lease. */
const CONVERGENCE_WAIT_MS = 30_000;

async function mustGetInstance(store: Store, name: string): Promise<InstanceRecord> {
  const instance = await store.getInstance(name);
  if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"; see \`cutover instance list\``, { details: { instance: name } });
  return instance;
}

async function mustGetRelease(store: Store, app: string, version: string): Promise<ReleaseRecord> {
  const release = await store.getRelease(app, version);
  if (release) return release;
  const known = (await store.listReleases(app)).map((r) => r.version).slice(0, 10);
  throw new CutoverError(
    'RELEASE_NOT_FOUND',
    `app "${app}" has no release ${version}` + (known.length ? `; published: ${known.join(', ')}` : '; publish one with `cutover release publish FILE`'),
    { details: { app, version } },
  );
}

/** The batches of a rolling deployment (pure): the machines taking part, `maxUnavailable` at a time; refusals say why. */
function rollingPlan(request: DeployRequest & { instance: string }, plan: DeploymentPlan, machines: DeploymentMachines | undefined, rollout?: RolloutSpec): DeploymentRecord['rolling'] {
  if (!request.rolling || plan.strategy !== 'start-and-flip') return undefined;
  if (rollout) throw new CutoverError('VALIDATION_FAILED', '--rolling goes machine by machine; --steps shifts traffic on every machine at once: choose one');
  if (!machines) throw new CutoverError('VALIDATION_FAILED', `instance "${request.instance}" is not placed on machines; --rolling needs an instance on several`);
  const taking = machines.placed.filter((m) => !machines.skipped.includes(m));
  const maxFailures = request.rolling.maxFailures ?? 0;
  if (maxFailures >= taking.length) {
    throw new CutoverError('VALIDATION_FAILED', `--max-failures ${maxFailures} would let every machine of "${request.instance}" fail (${taking.length} take part): give fewer than ${taking.length}`, {
      details: { maxFailures, machines: taking.length },
    });
  }
  return { maxUnavailable: request.rolling.maxUnavailable, ...(maxFailures > 0 ? { maxFailures } : {}), batches: batchesOf(taking, request.rolling.maxUnavailable) };
}

/** The record of a new deployment (pure): the plan's steps, with the release's tests where they run. */
function newDeployment(id: string, instance: InstanceRecord, plan: DeploymentPlan, spec: ReleaseSpec, request: DeployRequest, now: number, rollout?: RolloutSpec, rolling?: DeploymentRecord['rolling'], config?: ConfigIdentity): DeploymentRecord {
  const options = { ...(rollout ? { rollout } : {}), ...(request.skipTests ? { skip: true } : {}) };
  const tests = chooseTests(plan.strategy, spec.tests, { ...options, hasPrevious: plan.fromColor !== null });
  return {
    id,
    instance: instance.name,
    kind: plan.kind,
    strategy: plan.strategy,
    fromVersion: plan.fromVersion,
    toVersion: plan.toVersion,
    fromColor: plan.fromColor,
    toColor: plan.toColor,
    status: 'running',
    steps: (rolling ? rollingSteps(rolling.batches.length) : planSteps(plan.strategy, { ...(rollout ? { rollout } : {}), tests })).map((name) => ({ name, status: 'pending' as const })),
    actor: request.by.actor,
    app: instance.app,
    ...(request.by.reason ? { reason: request.by.reason } : {}),
    ...(request.by.requestId ? { requestId: request.by.requestId } : {}),
    ...(rollout ? { rollout } : {}),
    ...(request.skipTests ? { skipTests: true } : {}),
    ...(rolling ? { rolling } : {}),
    ...(config ? { configVersion: config.version, configDigest: config.digest } : {}),
    createdAt: now,
    updatedAt: now,
  };
}

/** How a deployment that takes an expired lease settles the running one that held it, in the same transaction. */
function supersededBy(next: string): NonNullable<AcquireOptions['supersede']> {
  return (d, now) =>
    settleFailed(now, d, runningStep(d), new CutoverError('DEPLOYMENT_FAILED', 'superseded, lease expired'), { supersededBy: next });
}

function mustBeSteerable(id: string, d: DeploymentRecord | undefined, what: 'abort' | 'resume'): DeploymentRecord {
  if (!d) throw new CutoverError('DEPLOYMENT_NOT_FOUND', `no deployment ${id}; see \`cutover status INSTANCE\``, { details: { deployment: id } });
  if (d.status !== 'running') {
    throw new CutoverError('DEPLOYMENT_NOT_RUNNING', `deployment ${id} already ${d.status}; there is nothing to ${what}`, { details: { deployment: id, status: d.status } });
  }
  if (what === 'abort' && !abortable(d)) {
    throw new CutoverError('DEPLOYMENT_NOT_RUNNING', `deployment ${id} has flipped to ${d.toVersion} already; roll back instead: \`cutover rollback ${d.instance}\``, {
      details: { deployment: id, status: d.status },
    });
  }
  return d;
}

/** Waits for `pending` at most `timeoutMs`. */
async function within(pending: Promise<unknown> | undefined, timeoutMs: number): Promise<void> {
  if (!pending) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  await Promise.race([pending, timeout]);
  clearTimeout(timer);
}

export function createDeployer(options: DeployerOptions): Deployer {
  const { store, runtime, clock } = options;
  const running = new Map<string, Promise<DeploymentRecord>>();
  const holder: LeaseHolder = options.holder ?? { serverId: `srv_${randomBytes(6).toString('hex')}`, replica: null, pid: process.pid };
  const log = options.log ? { log: options.log } : {};
  const leases = createLeaseKeeper({ store, clock, lockTtlMs: options.lockTtlMs, holder, ...log });
  const journal = createJournal({ store, clock, leases, by: replicaName(holder) });
  const hold = createStepHold({
    store,
    runtime,
    clock,
    journal,
    pollMs: options.pollMs ?? 1000,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.analysisThresholds ? { thresholds: options.analysisThresholds } : {}),
    ...log,
  });
  const deps: PipelineDeps = {
    store,
    runtime,
    clock,
    journal,
    hold,
    leases,
    openArtifact: options.openArtifact,
    rollbackWindowMs: options.rollbackWindowMs,
    ...(options.fileProblem ? { fileProblem: options.fileProblem } : {}),
    ...(options.appConfig ? { appConfig: options.appConfig } : {}),
    ...log,
  };

  /**
   * Takes a deployment's lease; a convergence holding it (a flip or a warm start on one machine:
   * ms to seconds) is waited for, up to {@link CONVERGENCE_WAIT_MS} of real time, instead of
   * failing the deployment with INSTANCE_LOCKED. Any other holder fails it at once, as before.
   */
  async function takeLockPastConvergence(lock: LockRecord, acquire: AcquireOptions): Promise<void> {
    const deadline = performance.now() + CONVERGENCE_WAIT_MS;
    for (;;) {
      try {
        return await leases.takeLock(lock, acquire);
      } catch (error) {
        const holder = isCutoverError(error) && error.code === 'INSTANCE_LOCKED' ? String(error.details?.holder ?? '') : '';
        if (!holder.startsWith(CONVERGE_OWNER) || performance.now() >= deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * The pipeline's deps for `d`: on machines, its runtime narrowed to the machines taking part, so
   * a machine that enters the placement meanwhile is left to convergence, after the deployment.
   */
  function depsFor(d: DeploymentRecord): PipelineDeps {
    const taking = d.machines ? d.machines.placed.filter((m) => !d.machines!.skipped.includes(m)) : undefined;
    return taking && spansMachines(runtime) ? { ...deps, runtime: runtime.on(taking) } : deps;
  }

  function track(d: DeploymentRecord, spec: ReleaseSpec, lock: Parameters<typeof runDeployment>[3]): Promise<DeploymentRecord> {
    const done = runDeployment(depsFor(d), d, spec, lock).finally(() => running.delete(d.id));
    running.set(d.id, done);
    return done;
  }

  async function begin(request: DeployRequest, result: PlanResult, instance: InstanceRecord, rollout?: RolloutSpec, config?: ConfigIdentity): Promise<DeploymentRecord> {
    if (!result.ok) throw result.error;
    const release = await mustGetRelease(store, instance.app, result.plan.toVersion);
    const spec = releaseSpecOf(release);
    // A required key missing from every layer refuses the deployment here, before anything is taken or started.
    if (config && options.appConfig) await options.appConfig.requireKeys(instance, spec, config.version);
    const id = newId();
    // Where it runs, checked before anything is taken: a forward deployment refuses unreachable machines.
    const machines = spansMachines(runtime) ? machinesTakingPart({ instance: instance.name, kind: result.plan.kind }, await runtime.machinesOf(instance.name), request.skipUnreachable === true) : undefined;
    const rolling = rollingPlan(request, result.plan, machines, rollout);
    const lock = leases.lockFor(id, instance.name, request.by.actor);
    await takeLockPastConvergence(lock, { supersede: supersededBy(id) });
    const deployment = newDeployment(id, instance, result.plan, spec, request, clock.now(), rollout, rolling, config);
    if (machines) deployment.machines = machines;
    try {
      await store.insertDeployment(deployment);
      await journal.audit(deployment, `${deployment.kind}.start`, {
        strategy: deployment.strategy,
        from: deployment.fromVersion,
        to: deployment.toVersion,
        steps: deployment.steps.map((s) => s.name),
        ...(rollout ? { rollout: describeRollout(rollout) } : {}),
        ...(request.skipTests ? { skipTests: true } : {}),
        ...(deployment.machines ? { machines: deployment.machines.placed, ...(deployment.machines.skipped.length ? { skipped: deployment.machines.skipped } : {}) } : {}),
        ...(rolling ? { rolling } : {}),
      });
    } catch (error) {
      await store.releaseLock(instance.name, lock.owner);
      throw error;
    }
    void track(structuredClone(deployment), spec, lock);
    return deployment;
  }

  const recovery = createRecovery({
    store,
    runtime,
    clock,
    holder,
    lockTtlMs: options.lockTtlMs,
    lockFor: leases.lockFor,
    runsHere: (id) => running.has(id),
    ...(options.replicaAlive ? { replicaAlive: options.replicaAlive } : {}),
    async resume(d, spec, lock, resumed) {
      await journal.audit(d, `${d.kind}.resumed`, resumed);
      void track(d, spec, lock);
    },
    fail: (d, step, error, release, ownSlot) => failDeployment(depsFor(d), d, step, error, release, ownSlot),
    ...log,
  });

  async function steer(id: string, what: 'abort' | 'resume', request: SteerRequest): Promise<DeploymentRecord> {
    const d = mustBeSteerable(id, await store.getDeployment(id), what);
    if (what === 'abort') {
      await store.appendAudit(journal.entry(d, ABORT_ACTION, {}, request));
    } else {
      const step = d.steps.find((s) => s.status === 'running' && shiftStepPercent(s.name) !== undefined);
      if (!step) {
        const at = runningStep(d)?.name ?? 'between steps';
        throw new CutoverError('DEPLOYMENT_NOT_RUNNING', `deployment ${id} is not holding at a weighted step (it is at ${at}); nothing to resume`, {
          details: { deployment: id, step: at },
        });
      }
      await store.appendAudit(journal.entry(d, RESUME_ACTION, { step: step.name }, request));
    }
    hold.wake(id);
    return d;
  }

  return {
    async deploy(request) {
      // A deployment its server left behind is settled first (finished if users see it), so the plan starts from the truth.
      await recovery.settleAll({ instance: request.instance });
      await options.settleLocal?.(request.instance);
      const instance = await mustGetInstance(store, request.instance);
      const config = await options.appConfig?.current(instance);
      return begin(request, planDeployment(instance, request.version, clock.now(), request.rollout, config?.digest), instance, request.rollout, config);
    },
    abort: (id, request) => steer(id, 'abort', request),
    resume: (id, request) => steer(id, 'resume', request),
    async rollback(request) {
      await recovery.settleAll({ instance: request.instance });
      await options.settleLocal?.(request.instance);
      const instance = await mustGetInstance(store, request.instance);
      const history = await store.listDeployments({ instance: instance.name, limit: 100 });
      const planned = planRollback(instance, history, clock.now(), request.to);
      // The pair it goes back to: the warm slot's, or what the last deployment to that version ran.
      return begin(request, planned, instance, undefined, planned.ok ? rollbackConfig(instance, planned.plan, history, clock.now()) : undefined);
    },
    async wait(id, timeoutMs) {
      await within(running.get(id), timeoutMs);
      return store.getDeployment(id);
    },
    recover: () => recovery.settleAll(),
    stopExpiredWarmSlots: () => stopExpiredWarmSlots({ store, runtime, clock, lockFor: leases.lockFor, heartbeat: leases.heartbeat }),
    async converge(instance, machine) {
      if (!spansMachines(runtime)) return { outcome: 'none' };
      return convergeMachine({ store, runtime, clock, leases, openArtifact: options.openArtifact, ...(options.appConfig ? { appConfig: options.appConfig } : {}), ...log }, instance, machine);
    },
    async idle() {
      await Promise.allSettled([...running.values()]);
    },
  };
}
