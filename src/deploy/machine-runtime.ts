// The `Runtime` over many machines (issues 17, 18): each instance-keyed call goes to every connected
// machine the instance is placed on, in parallel; the flip is the commit of a barrier (ADR 0023).
// The transport (the session a machine's agent opened, ADR 0019) gives a `Runtime` per connected
// machine; this fans out, gathers the answers and decides what they mean together.
import { CutoverError, isCutoverError } from '../shared/index.ts';
import type { Color, FlipReason } from '../shared/index.ts';
import type { FlipOutcome, HealthResult, InstanceMachines, MachinesRuntime, Runtime, RuntimeArtifact, RuntimeInstance } from './runtime.ts';
import { sumStats } from './sum-stats.ts';

export interface MachineRuntimeDeps {
  /**
   * The machines an instance is placed on, by name (waiting briefly for them to connect when they
   * are likely to come back at once); empty when its placement matches no machine.
   */
  machinesOf(instance: string): Promise<string[]>;
  /** The runtime of a machine's live connection; undefined when it has none. */
  runtimeOf(machine: string): Runtime | undefined;
  /** The machines connected now, by name. */
  connected(): string[];
  /** When the machine's agent last reported (ms), for the error when it is not connected; optional. */
  lastReport?(machine: string): Promise<number | null>;
  /** How long the commit of a flip waits for each machine's acknowledgement (`flipTimeout`, default 2000). */
  flipTimeoutMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** Every runtime to ask for fleet-wide calls: each connected machine's, once. */
function everyRuntime(deps: MachineRuntimeDeps): { machine: string; runtime: Runtime }[] {
  const out: { machine: string; runtime: Runtime }[] = [];
  for (const machine of deps.connected()) {
    const runtime = deps.runtimeOf(machine);
    if (runtime) out.push({ machine, runtime });
  }
  return out;
}

/** `AGENT_UNREACHABLE`, naming the machines and, when known, when each last reported. */
async function unreachable(deps: MachineRuntimeDeps, machines: readonly string[], instance?: string): Promise<CutoverError> {
  const about = instance === undefined ? '' : ` (instance "${instance}" runs there)`;
  if (machines.length === 0) {
    return new CutoverError('AGENT_UNREACHABLE', `instance "${instance}" is placed on no machine: its placement matches none (\`cutover machine list\`, \`cutover instance update ${instance} --machine NAME\`)`, {
      details: { instance, machines: [] },
    });
  }
  const seen = await Promise.all(machines.map(async (m) => ({ machine: m, at: await deps.lastReport?.(m).catch(() => null) })));
  const last = seen.map(({ machine, at }) => `${machine} ${at ? `last reported at ${new Date(at).toISOString()}` : 'has not reported since the server started'}`).join('; ');
  const one = machines.length === 1;
  const first = seen[0]!;
  return new CutoverError('AGENT_UNREACHABLE', `machine${one ? '' : 's'} ${machines.join(', ')} ${one ? 'is' : 'are'} not connected (${last})${about}`, {
    details: { machine: first.machine, machines: [...machines], ...(one && first.at ? { lastReport: first.at } : {}) },
  });
}

/** A machine's error, saying which machine when the instance runs on several. */
function onMachine(error: unknown, machine: string, several: boolean): unknown {
  if (!several || !isCutoverError(error)) return error;
  return new CutoverError(error.code, `on machine ${machine}: ${error.message}`, { details: { ...error.details, machine }, cause: error });
}

/** A health result of one machine, naming it when the instance runs on several. */
const healthOn = (result: HealthResult, machine: string, several: boolean): HealthResult =>
  result.ok || !several ? result : { ...result, message: `on machine ${machine}: ${result.message}` };

/**
 * What several machines report about an instance, as one: the first report whose live slot is not
 * running well (so the watchers see a machine's crash), else the first. Undefined when none knows it.
 */
function worstReport(reports: (RuntimeInstance | undefined)[]): RuntimeInstance | undefined {
  const known = reports.filter((r): r is RuntimeInstance => r !== undefined);
  const troubled = known.find((r) => {
    const live = r.active ? r.slots.find((s) => s.color === r.active) : undefined;
    return r.active !== null && (!live || (live.state !== 'healthy' && live.state !== 'starting'));
  });
  return troubled ?? known[0];
}

/** Waits for `work` up to `ms`; `timedOut` when it did not settle by then (it goes on, unwatched). */
async function within<T>(work: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | { timedOut: true }> {
  if (!Number.isFinite(ms)) return work.then((value) => ({ value }), (error: unknown) => ({ error }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([work.then((value) => ({ value }), (error: unknown) => ({ error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

/**
 * A `Runtime` that sends each call of an instance to every connected machine it is placed on
 * (`narrowed`: to some of them only). A machine without a connection is skipped; when none of the
 * instance's machines is connected the call fails with `AGENT_UNREACHABLE` naming them. Callers that
 * must not skip (a forward deployment) ask `machinesOf` first.
 *
 * - `waitHealthy`: healthy when every machine is; the first that is not says why, naming it.
 * - `flip` (the commit of the barrier): sent to all at once; each acknowledgement is awaited up to
 *   `flipTimeoutMs`. An explicit refusal or failure on any machine of a forward flip puts the
 *   machines that did flip back on the other colour and throws it; a missing acknowledgement makes
 *   that machine `unconfirmed` (it converges to the desired state when it is back). A rollback never
 *   undoes: machines that could not flip are `pending` and converge later. Machines not connected
 *   when the flip is due are `pending`.
 * - `stats`: the sum over the machines; `describe`: one report (a machine in trouble first).
 * - `runTest`: once, on the first connected machine (the result names it).
 */
export function createMachineRuntime(deps: MachineRuntimeDeps): MachinesRuntime {
  const flipTimeoutMs = deps.flipTimeoutMs ?? 2000;

  async function machinesOf(instance: string, scope?: ReadonlySet<string>): Promise<InstanceMachines & { runtimes: { machine: string; runtime: Runtime }[]; several: boolean }> {
    const all = await deps.machinesOf(instance);
    const placed = all.filter((m) => !scope || scope.has(m));
    const runtimes: { machine: string; runtime: Runtime }[] = [];
    const away: string[] = [];
    for (const machine of placed) {
      const runtime = deps.runtimeOf(machine);
      if (runtime) runtimes.push({ machine, runtime });
      else away.push(machine);
    }
    // Messages name the machine whenever the instance has several, even when a call reaches one of them.
    return { machines: placed, connected: runtimes.map((r) => r.machine), unreachable: away, runtimes, several: all.length > 1 };
  }

  function fanOut(scope?: ReadonlySet<string>): Runtime {
    /** The connected machines of an instance; none connected: `AGENT_UNREACHABLE` naming them. */
    async function reach(instance: string) {
      const found = await machinesOf(instance, scope);
      if (found.runtimes.length === 0) throw await unreachable(deps, found.machines, instance);
      return found;
    }
    /** `work` on every connected machine of the instance, in parallel; the first failure names its machine. */
    async function each<T>(instance: string, work: (runtime: Runtime, machine: string) => Promise<T>): Promise<{ machine: string; value: T }[]> {
      const { runtimes, several } = await reach(instance);
      return Promise.all(
        runtimes.map(async ({ machine, runtime }) => {
          try {
            return { machine, value: await work(runtime, machine) };
          } catch (error) {
            throw onMachine(error, machine, several);
          }
        }),
      );
    }

    async function flip(instance: string, color: Color, expectVersion?: string, reason?: FlipReason): Promise<FlipOutcome> {
      const { runtimes, unreachable: pending, several } = await reach(instance);
      // The barrier's timeout is for several machines; one machine alone is waited for as any call is.
      const wait = several ? flipTimeoutMs : Number.POSITIVE_INFINITY;
      const answers = await Promise.all(runtimes.map(async ({ machine, runtime }) => ({ machine, runtime, answer: await within(runtime.flip(instance, color, expectVersion, reason), wait) })));
      const flipped = answers.flatMap((a) => ('value' in a.answer ? [{ machine: a.machine, runtime: a.runtime, at: a.answer.value.flippedAt }] : []));
      // A lost connection is a missing acknowledgement, not a refusal: the flip may have happened.
      const lost = (e: unknown) => isCutoverError(e) && (e.code === 'AGENT_UNREACHABLE' || e.code === 'TIMEOUT');
      const failed = answers.flatMap((a) => ('error' in a.answer && !lost(a.answer.error) ? [{ machine: a.machine, error: a.answer.error }] : []));
      const unconfirmed = answers.filter((a) => 'timedOut' in a.answer || ('error' in a.answer && lost(a.answer.error))).map((a) => a.machine);
      if (failed.length > 0 && reason !== 'rollback') {
        // Every machine together or none: the ones that flipped go back to the colour they left.
        await Promise.all(
          flipped.map(({ machine, runtime }) =>
            runtime.flip(instance, otherColor(color), undefined, 'rollback').catch((e: Error) => deps.log?.warn({ instance, machine, err: e.message }, 'could not flip a machine back after another refused the flip')),
          ),
        );
        throw onMachine(failed[0]!.error, failed[0]!.machine, several);
      }
      const machines = Object.fromEntries(flipped.map((f) => [f.machine, f.at]));
      const flippedAt = flipped.length > 0 ? Math.min(...flipped.map((f) => f.at)) : Date.now();
      const notDone = [...pending, ...failed.map((f) => f.machine)];
      return { flippedAt, ...(several || notDone.length || unconfirmed.length ? { machines } : {}), ...(unconfirmed.length ? { unconfirmed } : {}), ...(notDone.length ? { pending: notDone.sort() } : {}) };
    }

    /**
     * `work` on every connected machine of the instance, each awaited up to `flipTimeoutMs` when
     * there are several: for calls whose failure on one machine must not hold the others (closing
     * a preview, cancelling a test). A machine that does not answer in time — its link silently
     * down, not yet known dead — is logged and left to its own timeout.
     */
    async function eachBounded(instance: string, what: string, work: (runtime: Runtime) => Promise<unknown>): Promise<void> {
      const { runtimes, several } = await reach(instance);
      const wait = several ? flipTimeoutMs : Number.POSITIVE_INFINITY;
      const answers = await Promise.all(runtimes.map(async ({ machine, runtime }) => ({ machine, answer: await within(work(runtime), wait) })));
      for (const { machine, answer } of answers) {
        if ('timedOut' in answer) deps.log?.warn({ instance, machine }, `machine did not answer ${what} in time; going on without it`);
        else if ('error' in answer) throw onMachine(answer.error, machine, several);
      }
    }

    return {
      ensureArtifact: async (instance, digest, open) => void (await each(instance, (r) => r.ensureArtifact(instance, digest, open))),
      ensureInstance: async (name, hosts) => void (await each(name, (r) => r.ensureInstance(name, hosts))),
      async startSlot(spec) {
        const started = await each(spec.instance, (r) => r.startSlot(spec));
        const first = started[0]!.value;
        return started.length > 1 ? { ...first, machines: Object.fromEntries(started.map((s) => [s.machine, { port: s.value.port, ...(s.value.pid !== undefined ? { pid: s.value.pid } : {}) }])) } : first;
      },
      async waitHealthy(instance, color, timeoutMs) {
        const { runtimes, several } = await reach(instance);
        // The first unhealthy answer decides; the others are not waited for.
        const results = runtimes.map(({ machine, runtime }) => runtime.waitHealthy(instance, color, timeoutMs).then((r) => healthOn(r, machine, several), (e: unknown) => Promise.reject(onMachine(e, machine, several))));
        const firstBad = new Promise<HealthResult>((resolve) => results.forEach((p) => void p.then((r) => (r.ok ? undefined : resolve(r)), () => undefined)));
        const all = Promise.all(results).then((rs) => rs.find((r) => !r.ok) ?? { ok: true as const, healthySince: Math.max(...rs.map((r) => (r.ok ? r.healthySince : 0))) });
        return Promise.race([all, firstBad]);
      },
      flip,
      async shift(instance, color, percent) {
        const shifted = await each(instance, (r) => r.shift(instance, color, percent));
        return { shiftedAt: Math.min(...shifted.map((s) => s.value.shiftedAt)) };
      },
      // Opening a preview needs every machine (the smoke test may go through any); closing it does not wait for a silent one.
      setPreview: async (instance, token) =>
        token === null ? eachBounded(instance, 'closing the preview', (r) => r.setPreview(instance, null)) : void (await each(instance, (r) => r.setPreview(instance, token))),
      setMaintenance: async (instance, maintenance) => void (await each(instance, (r) => r.setMaintenance(instance, maintenance))),
      stopSlot: async (instance, color) => void (await each(instance, (r) => r.stopSlot(instance, color))),
      async removeInstance(name) {
        const found = await machinesOf(name, scope);
        await Promise.all(found.runtimes.map(({ runtime }) => runtime.removeInstance(name)));
      },
      async describe(instance) {
        const reports = await each(instance, (r) => r.describe(instance));
        return worstReport(reports.map((r) => r.value));
      },
      async stats(instance) {
        const reports = await each(instance, (r) => r.stats(instance));
        return sumStats(reports.flatMap((r) => (r.value ? [r.value] : [])));
      },
      async runTest(spec) {
        const { runtimes, several } = await reach(spec.instance);
        const { machine, runtime } = runtimes[0]!;
        const result = await runtime.runTest(spec).catch((e: unknown) => Promise.reject(onMachine(e, machine, several)));
        return several ? { ...result, machine } : result;
      },
      cancelTest: async (instance) => eachBounded(instance, 'cancelling the test', (r) => r.cancelTest(instance)),

      // Machine-wide reports: each machine's reconciliation asks its own runtime (`runtimeOf`); through
      // this one they are every connected machine's, and an ack goes to each (unknown ids are ignored).
      async localRollbacks() {
        return (await Promise.all(everyRuntime(deps).map(({ runtime }) => runtime.localRollbacks()))).flat();
      },
      async ackLocalRollbacks(ids) {
        await Promise.all(everyRuntime(deps).map(({ runtime }) => runtime.ackLocalRollbacks(ids)));
      },
      async applyDesired(number, document) {
        const runtime = deps.runtimeOf(document.machine);
        if (!runtime) throw await unreachable(deps, [document.machine]);
        return runtime.applyDesired(number, document);
      },
      async listArtifacts() {
        const lists = await Promise.all(everyRuntime(deps).map(({ runtime }) => runtime.listArtifacts()));
        const union = new Map<string, RuntimeArtifact>();
        for (const a of lists.flat()) {
          const seen = union.get(a.digest);
          union.set(a.digest, seen ? { ...seen, size: Math.max(seen.size, a.size), inUse: seen.inUse || a.inUse } : { ...a });
        }
        return [...union.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
      },
      async deleteArtifact(digest) {
        const holders = [];
        for (const { machine, runtime } of everyRuntime(deps)) {
          const held = (await runtime.listArtifacts()).find((a) => a.digest === digest);
          if (held?.inUse) throw new CutoverError('SLOT_BUSY', `a slot on machine ${machine} runs ${digest}; it is deleted once no slot uses it`, { details: { digest, machine } });
          if (held) holders.push(runtime);
        }
        // Checked on every machine first, so an artifact in use somewhere is deleted nowhere.
        for (const runtime of holders) await runtime.deleteArtifact(digest);
      },
    };
  }

  /** The runtime over the machines in `scope` (all when undefined), narrowed further by `on`. */
  function spanning(scope?: ReadonlySet<string>): MachinesRuntime {
    return {
      ...fanOut(scope),
      machinesOf: async (instance) => {
        const { machines, connected, unreachable: away } = await machinesOf(instance, scope);
        return { machines, connected, unreachable: away };
      },
      on: (machines) => spanning(new Set(machines.filter((m) => !scope || scope.has(m)))),
    };
  }
  return spanning();
}
