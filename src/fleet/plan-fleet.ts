// The fleet scheduler's planner: which instances to upgrade now, and why every other one waits.
// Pure: the shell reads the store and the clock, calls `planFleet`, then acts on `upgrades` and `halts`.
import type { HaltRecord, InstanceRecord } from '../store/index.ts';
import type { FleetPolicy } from './fleet-policy.ts';
import { formatWindow, parseWindow } from './maintenance-window.ts';
import { windowAt } from './window-at.ts';
import type { WindowState } from './window-at.ts';
import { LOCAL_MACHINE } from './plan-types.ts';
import type { Attempt, Decision, FleetPlan, InstancePlan, NewHaltDecision, PlanInput } from './plan-types.ts';
import { resolveTarget } from './resolve-target.ts';
import type { ResolvedTarget } from './resolve-target.ts';

/** Per app, per version: nested rather than keyed by a joined string, so lookups allocate nothing. */
type ByVersion<T> = Map<string, Map<string, T>>;

function getIn<T>(map: ByVersion<T>, app: string, version: string): T | undefined {
  return map.get(app)?.get(version);
}

function setIn<T>(map: ByVersion<T>, app: string, version: string, value: T): void {
  let inner = map.get(app);
  if (!inner) map.set(app, (inner = new Map()));
  inner.set(version, value);
}

/** The failure budget of one version, counted since its last lifted halt. */
interface Budget {
  failures: number;
  attempted: number;
  exceeded: boolean;
}

/** What the window cache keeps per distinct window text (one evaluation per text and plan). */
interface WindowFacts {
  canonical: string;
  zone: string;
  state: WindowState;
}

/** How many instances of one environment target a version, and how many of them already run it. */
interface WaveTally {
  targeting: number;
  succeeded: number;
}

/** What the history says, indexed once per plan. */
interface History {
  /** The running attempt per instance (the latest started, should there be several). */
  running: Map<string, Attempt>;
  runningCount: number;
  /** Finished attempts per instance, in input order (sorted only where retries are evaluated). */
  finished: Map<string, Attempt[]>;
  /** Versions each instance upgraded to successfully. */
  succeeded: Map<string, Set<string>>;
}

/** The indexes one plan builds before deciding, shared by every instance's gates. */
interface Context {
  input: PlanInput;
  history: History;
  budgets: ByVersion<Budget>;
  active: ByVersion<HaltRecord>;
  lastLift: ByVersion<number>;
  tallies: ByVersion<Map<string, WaveTally>>;
  /** Per wave index, its environment, or null when an earlier wave already lists it. */
  waveEnvironments: Array<string | null>;
}

const NO_BUDGET: Budget = Object.freeze({ failures: 0, attempted: 0, exceeded: false });

/**
 * Plans one scheduler tick: a decision for every instance, the upgrades to start now (in start
 * order) and the versions whose failure budget just ran out. Pure and deterministic: no I/O, no
 * clock but `input.now`, the input is not mutated.
 *
 * Each instance goes through these gates, the first one that applies deciding:
 * 1. target: none → `no-target`; a channel pointing nowhere → `unresolved`; already run → `on-target`;
 * 2. a hold whose `until` is null or after `now` → `held`;
 * 3. a running deployment of it (any version) → `deploying`;
 * 4. the version's rollout halted, or its failure budget exceeded in this plan → `halted`;
 * 5. consecutive failures at the version ≥ `retry.maxAttempts` → `gave-up`; in backoff → `retry-wait`;
 * 6. an earlier wave has not enough successes with the version → `waiting-wave`;
 * 7. its maintenance window is closed → `waiting-window`;
 * 8. otherwise due: admitted in order (wave, window closing soonest, name) within the fleet-wide
 *    limit and, on every machine of the instance, the per-machine limit (running deployments count
 *    on each machine of their instance) → `upgrade`, the rest → `capacity`.
 *
 * History semantics: finished attempts older than `policy.lookbackMs` are ignored. A version's
 * failure count, and every instance's consecutive-failure count at it, start again after the last
 * lifted halt of that version: resuming a rollout gives every instance a fresh set of retries.
 * Consecutive failures are counted from the most recent finished attempt backwards, stopping at a
 * success, at an attempt at another version, or at the last lift.
 *
 * `policy.enabled` is not consulted: the plan says what would happen; the shell decides to act.
 * Plan the whole fleet even for a filtered view: waves and capacity depend on every instance.
 */
export function planFleet(input: PlanInput): FleetPlan {
  const { now, policy, instances } = input;
  const history = indexHistory(input.attempts, now - policy.lookbackMs);
  const { active, lastLift } = indexHalts(input.halts);
  const budgets = countBudgets(input.attempts, now - policy.lookbackMs, lastLift, policy);

  const waveOf = new Map<string, number>();
  // A repeated environment belongs to its first wave only.
  const waveEnvironments = policy.waves.map((w, i) => {
    if (waveOf.has(w.environment)) return null;
    waveOf.set(w.environment, i);
    return w.environment;
  });
  const lastWave = policy.waves.length;

  // Pass 1: resolve every target once, and tally the waves from it.
  const targets: ResolvedTarget[] = new Array<ResolvedTarget>(instances.length);
  const tallies: ByVersion<Map<string, WaveTally>> = new Map();
  for (let i = 0; i < instances.length; i += 1) {
    const inst = instances[i] as InstanceRecord;
    const target = resolveTarget(inst, input.pointers);
    targets[i] = target;
    const version = target.kind === 'none' ? null : target.version;
    // Only listed environments can block a later wave, so only they are tallied.
    if (version === null || !waveOf.has(inst.environment)) continue;
    let byEnv = getIn(tallies, inst.app, version);
    if (!byEnv) setIn(tallies, inst.app, version, (byEnv = new Map()));
    let tally = byEnv.get(inst.environment);
    if (!tally) byEnv.set(inst.environment, (tally = { targeting: 0, succeeded: 0 }));
    const succeeded = inst.currentVersion === version || history.succeeded.get(inst.name)?.has(version) === true;
    // A held instance that has not run the version will not get it while held: counting it would
    // make a later wave wait for it (for ever, if the wave needs all of its instances).
    const hold = input.holds.get(inst.name);
    if (!succeeded && hold && (hold.until === null || hold.until > now)) continue;
    tally.targeting += 1;
    if (succeeded) tally.succeeded += 1;
  }

  const context: Context = { input, history, budgets, active, lastLift, tallies, waveEnvironments };
  const windows = new Map<string, WindowFacts>();
  const machineRunning = new Map<string, number>();
  const entries: InstancePlan[] = new Array<InstancePlan>(instances.length);
  const due: Due[] = [];

  // Pass 2: every gate but capacity.
  for (let i = 0; i < instances.length; i += 1) {
    const inst = instances[i] as InstanceRecord;
    const target = targets[i] as ResolvedTarget;
    const machines = machinesOfInstance(input.machines, inst.name);
    const running = history.running.get(inst.name);
    if (running) for (const m of machines) machineRunning.set(m, (machineRunning.get(m) ?? 0) + 1);

    const windowText = effectiveWindow(inst, policy);
    let facts = windows.get(windowText);
    if (!facts) windows.set(windowText, (facts = evaluateWindow(windowText, now)));
    const wave = waveOf.get(inst.environment) ?? lastWave;
    const entry: InstancePlan = {
      instance: inst.name,
      app: inst.app,
      environment: inst.environment,
      wave,
      window: facts.canonical,
      zone: facts.zone,
      currentVersion: inst.currentVersion,
      target,
      decision: { kind: 'no-target' },
    };
    entries[i] = entry;

    const decision = decide(context, inst, target, running, wave, facts);
    if (decision) entry.decision = decision;
    else due.push({ entry, closesAt: facts.state.closesAt ?? Number.POSITIVE_INFINITY, machines });
  }

  const upgrades = admit(due, history.runningCount, machineRunning, policy);
  const counts: FleetPlan['counts'] = {};
  for (const e of entries) counts[e.decision.kind] = (counts[e.decision.kind] ?? 0) + 1;
  return { at: now, entries, upgrades, halts: newHalts(budgets, active, policy), counts };
}

/** Gates 2–7 for one instance; undefined when it is due. */
function decide(
  context: Context,
  inst: InstanceRecord,
  target: ResolvedTarget,
  running: Attempt | undefined,
  wave: number,
  facts: WindowFacts,
): Decision | undefined {
  const { input, history, budgets, active, lastLift, tallies } = context;
  const { now, policy } = input;
  if (target.kind === 'none') return { kind: 'no-target' };
  if (target.version === null) return { kind: 'unresolved', channel: target.kind === 'channel' ? target.channel : '' };
  const version = target.version;
  // On target with app config pending, and the policy applies it: due like an upgrade to the same release.
  const configPending = policy.applyAppConfig && input.pendingConfig?.has(inst.name) === true;
  if (target.onTarget && !configPending) return { kind: 'on-target', version };

  const hold = input.holds.get(inst.name);
  if (hold && (hold.until === null || hold.until > now)) return { kind: 'held', hold };

  if (running) return { kind: 'deploying', version: running.version };

  const budget = getIn(budgets, inst.app, version) ?? NO_BUDGET;
  const halt = getIn(active, inst.app, version);
  if (halt || budget.exceeded) {
    return { kind: 'halted', version, halt: halt ?? null, failures: budget.failures, attempted: budget.attempted };
  }

  const retry = consecutiveFailures(history.finished.get(inst.name), version, getIn(lastLift, inst.app, version));
  if (retry) {
    if (retry.attempts >= policy.retry.maxAttempts) return { kind: 'gave-up', version, ...retry };
    const wait = Math.min(policy.retry.backoffMs * 2 ** (retry.attempts - 1), policy.retry.maxBackoffMs);
    const retryAt = retry.lastFailedAt + wait;
    if (now < retryAt) return { kind: 'retry-wait', version, attempts: retry.attempts, retryAt, lastError: retry.lastError, lastFailedAt: retry.lastFailedAt };
  }

  const byEnv = getIn(tallies, inst.app, version);
  for (let j = 0; j < wave && byEnv; j += 1) {
    const w = policy.waves[j];
    if (!w || context.waveEnvironments[j] === null) continue;
    const tally = byEnv.get(w.environment);
    if (!tally || tally.targeting === 0) continue;
    // The small epsilon keeps 0.3 × 10 = 3.0000000000000004 from needing 4.
    const need = Math.max(Math.min(w.minSuccesses, tally.targeting), Math.ceil(w.minShare * tally.targeting - 1e-9));
    if (tally.succeeded < need) return { kind: 'waiting-wave', version, environment: w.environment, have: tally.succeeded, need };
  }

  if (!facts.state.open) return { kind: 'waiting-window', version, opensAt: facts.state.opensAt ?? null };
  return undefined;
}

/** The window that applies to an instance: its own, its environment's default, or the policy's. */
function effectiveWindow(inst: InstanceRecord, policy: FleetPolicy): string {
  if (inst.window !== null && inst.window !== undefined) return inst.window;
  // hasOwn: an environment named like an Object.prototype member must not read it.
  if (Object.hasOwn(policy.windows, inst.environment)) return policy.windows[inst.environment] as string;
  return policy.defaultWindow;
}

function evaluateWindow(text: string, now: number): WindowFacts {
  try {
    const window = parseWindow(text);
    const zone = window.kind === 'rules' ? (window.rules[0]?.zone ?? 'UTC') : 'UTC';
    return { canonical: formatWindow(window), zone, state: windowAt(window, now) };
  } catch {
    // Window texts are validated when written; one that no longer parses (a zone gone from the tz
    // database) must not stop the whole fleet's plan, so it counts as never open.
    return { canonical: text, zone: 'UTC', state: { open: false } };
  }
}

function indexHistory(attempts: readonly Attempt[], since: number): History {
  const running = new Map<string, Attempt>();
  const finished = new Map<string, Attempt[]>();
  const succeeded = new Map<string, Set<string>>();
  let runningCount = 0;
  for (const a of attempts) {
    if (a.outcome === 'running') {
      runningCount += 1;
      const seen = running.get(a.instance);
      if (!seen || a.startedAt > seen.startedAt || (a.startedAt === seen.startedAt && a.version > seen.version)) running.set(a.instance, a);
      continue;
    }
    if (a.finishedAt === null || a.finishedAt < since) continue;
    const list = finished.get(a.instance);
    if (list) list.push(a);
    else finished.set(a.instance, [a]);
    if (a.outcome === 'succeeded') {
      const versions = succeeded.get(a.instance);
      if (versions) versions.add(a.version);
      else succeeded.set(a.instance, new Set([a.version]));
    }
  }
  return { running, runningCount, finished, succeeded };
}

function indexHalts(halts: readonly HaltRecord[]): { active: ByVersion<HaltRecord>; lastLift: ByVersion<number> } {
  const active: ByVersion<HaltRecord> = new Map();
  const lastLift: ByVersion<number> = new Map();
  for (const h of halts) {
    if (h.liftedAt === null) {
      const seen = getIn(active, h.app, h.version);
      if (!seen || h.haltedAt > seen.haltedAt || (h.haltedAt === seen.haltedAt && h.id > seen.id)) setIn(active, h.app, h.version, h);
    } else if (h.liftedAt > (getIn(lastLift, h.app, h.version) ?? Number.NEGATIVE_INFINITY)) {
      setIn(lastLift, h.app, h.version, h.liftedAt);
    }
  }
  return { active, lastLift };
}

/**
 * Per version: `attempted` = instances with a finished attempt since the last lift, `failures` =
 * those whose latest failure there has no success at or after it.
 */
function countBudgets(attempts: readonly Attempt[], since: number, lastLift: ByVersion<number>, policy: FleetPolicy): ByVersion<Budget> {
  const perInstance: ByVersion<Map<string, { failedAt: number; succeededAt: number }>> = new Map();
  for (const a of attempts) {
    if (a.finishedAt === null || a.outcome === 'running' || a.finishedAt < since) continue;
    const lift = getIn(lastLift, a.app, a.version);
    if (lift !== undefined && a.finishedAt <= lift) continue;
    let byInstance = getIn(perInstance, a.app, a.version);
    if (!byInstance) setIn(perInstance, a.app, a.version, (byInstance = new Map()));
    let seen = byInstance.get(a.instance);
    if (!seen) byInstance.set(a.instance, (seen = { failedAt: Number.NEGATIVE_INFINITY, succeededAt: Number.NEGATIVE_INFINITY }));
    if (a.outcome === 'failed') seen.failedAt = Math.max(seen.failedAt, a.finishedAt);
    else seen.succeededAt = Math.max(seen.succeededAt, a.finishedAt);
  }
  const { maxFailures, maxShare, minAttempts } = policy.failureBudget;
  const budgets: ByVersion<Budget> = new Map();
  for (const [app, versions] of perInstance) {
    for (const [version, byInstance] of versions) {
      let failures = 0;
      for (const s of byInstance.values()) if (s.failedAt > s.succeededAt) failures += 1;
      const attempted = byInstance.size;
      const exceeded = failures > maxFailures || (attempted >= minAttempts && failures / attempted > maxShare);
      setIn(budgets, app, version, { failures, attempted, exceeded });
    }
  }
  return budgets;
}

/** Exceeded budgets without an active halt, sorted by app and version for a stable plan. */
function newHalts(budgets: ByVersion<Budget>, active: ByVersion<HaltRecord>, policy: FleetPolicy): NewHaltDecision[] {
  const halts: NewHaltDecision[] = [];
  const { maxFailures, maxShare } = policy.failureBudget;
  const share = `${Number((maxShare * 100).toFixed(1))} %`;
  for (const [app, versions] of budgets) {
    for (const [version, b] of versions) {
      if (!b.exceeded || getIn(active, app, version)) continue;
      const reason = `${b.failures} of ${b.attempted} upgrades of ${app} to ${version} failed (budget: more than ${maxFailures} or ${share})`;
      halts.push({ app, version, failures: b.failures, attempted: b.attempted, reason });
    }
  }
  return halts.sort((a, b) => compareText(a.app, b.app) || compareText(a.version, b.version));
}

/** The run of failures at `version` ending with the most recent finished attempt, or null. */
function consecutiveFailures(
  finished: Attempt[] | undefined,
  version: string,
  lift: number | undefined,
): { attempts: number; lastError: string | null; lastFailedAt: number } | null {
  if (!finished) return null;
  const sorted = finished.length === 1 ? finished : [...finished].sort(latestFirst);
  let attempts = 0;
  let last: Attempt | undefined;
  for (const a of sorted) {
    if (a.version !== version || a.outcome !== 'failed') break;
    if (lift !== undefined && (a.finishedAt ?? 0) <= lift) break;
    attempts += 1;
    last ??= a;
  }
  if (!last) return null;
  return { attempts, lastError: last.error, lastFailedAt: last.finishedAt ?? 0 };
}

/**
 * Most recent first. Ties are broken by start, then a success counts as later than a failure (as in
 * the budget), then by version and error, so the result never depends on the input's order.
 */
function latestFirst(a: Attempt, b: Attempt): number {
  return (
    (b.finishedAt ?? 0) - (a.finishedAt ?? 0) ||
    b.startedAt - a.startedAt ||
    (a.outcome === b.outcome ? 0 : a.outcome === 'succeeded' ? -1 : 1) ||
    compareText(a.version, b.version) ||
    compareText(a.error ?? '', b.error ?? '')
  );
}

/** An instance that passed every gate but capacity. */
interface Due {
  entry: InstancePlan;
  closesAt: number;
  /** Its machines, sorted by name (so a `capacity` decision names the same full one every time). */
  machines: readonly string[];
}

const LOCAL_ONLY: readonly string[] = Object.freeze([LOCAL_MACHINE]);

/** The machines an upgrade of `instance` takes room on: its own, sorted and once each, or the shared local budget. */
function machinesOfInstance(byInstance: PlanInput['machines'], instance: string): readonly string[] {
  const named = byInstance.get(instance);
  if (!named || named.length === 0) return LOCAL_ONLY;
  return named.length === 1 ? named : [...new Set(named)].sort(compareText);
}

/**
 * Orders the due instances and admits them within the parallel limits; marks the others
 * `capacity`. An upgrade runs on every machine of its instance at once, so it needs room on each,
 * and takes it on each once admitted.
 */
function admit(due: Due[], runningCount: number, machineRunning: Map<string, number>, policy: FleetPolicy): InstancePlan[] {
  due.sort((a, b) => a.entry.wave - b.entry.wave || a.closesAt - b.closesAt || compareText(a.entry.instance, b.entry.instance));
  const upgrades: InstancePlan[] = [];
  let fleet = runningCount;
  for (const { entry, machines } of due) {
    const version = (entry.target.kind === 'none' ? null : entry.target.version) as string;
    const full = machines.find((m) => (machineRunning.get(m) ?? 0) >= policy.maxParallelPerMachine);
    if (fleet >= policy.maxParallel) {
      entry.decision = { kind: 'capacity', version, limit: 'fleet', machine: null };
    } else if (full !== undefined) {
      entry.decision = { kind: 'capacity', version, limit: 'machine', machine: full };
    } else {
      entry.decision = { kind: 'upgrade', from: entry.currentVersion, to: version };
      fleet += 1;
      for (const m of machines) machineRunning.set(m, (machineRunning.get(m) ?? 0) + 1);
      upgrades.push(entry);
    }
  }
  return upgrades;
}

/** Code-unit order: the same on every machine, unlike `localeCompare`. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
