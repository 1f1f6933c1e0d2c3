// The server's view of its machines through their sessions: the `Runtime` that sends each call to
// the session of the instance's machine, and what happens when a machine connects — its instances
// placed (an earlier version's install upgraded in place), its local rollbacks recorded, what it
// runs kept for drift, and its desired-state document sent.
import type { Readable } from 'node:stream';
import { systemActor } from '../shared/index.ts';
import type { Clock, Color, Logger } from '../shared/index.ts';
import type { Store } from '../store/index.ts';
import { nextDesiredState, placeUnplacedInstances, recordDesiredAnswer, recordMachineReport } from '../control/index.ts';
import { createLocalRollbackReconciler, createMachineRuntime } from '../deploy/index.ts';
import type { LocalRollbackDeps, LocalRollbackReconciler, Runtime } from '../deploy/index.ts';
import type { AgentLink } from './agent-link.ts';
import type { AgentSession } from './session.ts';
import { notConnected, openSessionLogs, sessionRuntime } from './session-runtime.ts';

/** How long a call waits for the instance's machine to connect before it is `AGENT_UNREACHABLE`. */
const CONNECT_GRACE_MS = 3000;
/** How long after this server's start, or after a machine's session ended, a call waits for it. */
const RECONNECT_WINDOW_MS = 15_000;

export interface FleetRuntimeDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** The sessions (set once the link exists: the link calls back into the fleet when a machine connects). */
  link: () => AgentLink;
  localRollbacks: Omit<LocalRollbackDeps, 'store' | 'clock'>;
}

export function createFleetRuntime(deps: FleetRuntimeDeps) {
  const { store, clock, log } = deps;
  const runtimes = new Map<string, Runtime>();
  const runtimeOf = (machine: string): Runtime | undefined => {
    if (!deps.link().sessionOf(machine)) return undefined;
    let runtime = runtimes.get(machine);
    if (!runtime) runtimes.set(machine, (runtime = sessionRuntime(machine, (m) => deps.link().sessionOf(m))));
    return runtime;
  };

  /** The machine an instance runs on; an instance no machine holds yet runs on the only active machine, if there is one. */
  async function machineOf(instance: string): Promise<string | null> {
    const record = await store.getInstance(instance);
    if (record?.machine) return record.machine;
    const active = (await store.listMachines()).filter((m) => m.status === 'active');
    return active.length === 1 ? active[0]!.name : null;
  }

  /**
   * The instance's machine, waiting up to {@link CONNECT_GRACE_MS} for it to connect when it is
   * likely to come back at once: in the first seconds after this server started (every agent
   * reconnects then), or right after its session ended. Otherwise a machine away fails at once.
   */
  const started = performance.now();
  async function connectedMachineOf(instance: string): Promise<string | null> {
    const deadline = Date.now() + CONNECT_GRACE_MS;
    for (;;) {
      const machine = await machineOf(instance);
      if ((machine !== null && deps.link().sessionOf(machine)) || Date.now() >= deadline) return machine;
      const lostAt = machine === null ? undefined : deps.link().lostAt(machine);
      const reconnecting = performance.now() - started < RECONNECT_WINDOW_MS || (lostAt !== undefined && performance.now() - lostAt < RECONNECT_WINDOW_MS);
      if (!reconnecting) return machine;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const runtime = createMachineRuntime({
    machineOf: connectedMachineOf,
    runtimeOf: (machine) => (machine === null ? undefined : runtimeOf(machine)),
    connected: () => deps.link().connected(),
    lastReport: async (machine) => (await store.getMachine(machine))?.lastHeartbeat ?? null,
  });

  // Each connected machine's local rollbacks (`cutover local rollback` while the server was away).
  const reconcilers = new Map<string, LocalRollbackReconciler>();
  const reconcilerOf = (machine: string): LocalRollbackReconciler => {
    let r = reconcilers.get(machine);
    if (!r) reconcilers.set(machine, (r = createLocalRollbackReconciler({ store, clock, ...deps.localRollbacks }, machine, runtimeOf(machine) ?? runtime)));
    return r;
  };
  const localRollbacks = {
    /** One round on every connected machine; a machine that cannot be asked now waits for the next. */
    async run(): Promise<void> {
      await Promise.all(deps.link().connected().map((m) => reconcilerOf(m).run().catch(() => undefined)));
    },
    /** Until a connected machine's first round, its instances are held (the watchers leave them alone). */
    holds: (instance: string): boolean => [...reconcilers.values()].some((r) => r.holds(instance)),
    idle: async (): Promise<void> => void (await Promise.all([...reconcilers.values()].map((r) => r.idle()))),
  };

  /** What the server does when a machine's session opens: in this order, each step logged when it fails. */
  async function onConnect(session: AgentSession): Promise<void> {
    const machine = session.info.machine;
    const step = async (what: string, work: () => Promise<unknown>) =>
      work().catch((error: Error) => log.warn({ machine, err: error.message }, `${what} failed; tried again at the next connection`));
    reconcilers.delete(machine); // a fresh round for the new session
    await step('placing the instances of an upgraded install', async () => {
      const placed = await placeUnplacedInstances({ store, clock }, machine, systemActor('placement'));
      if (placed.length) log.info({ machine, instances: placed }, 'placed the instances no machine held on the only machine');
    });
    await step('recording its local rollbacks', () => reconcilerOf(machine).run());
    await step('recording what it runs and sending its desired state', () => syncMachine(session));
  }

  /**
   * What the machine runs, kept for drift, and its desired-state document, sent when its number
   * is not the one the agent acknowledged (the number goes up only when the document changed).
   */
  async function syncMachine(session: AgentSession): Promise<void> {
    const machine = session.info.machine;
    await recordMachineReport({ store, clock }, machine, await session.call('agent.state', {}));
    const { number, document } = await nextDesiredState({ store, clock }, machine);
    const held = await store.getDesiredState(machine);
    if (held?.ackedNumber === number || held?.rejectedNumber === number) return;
    await recordDesiredAnswer({ store, clock }, machine, number, await session.call('machine.desired', { number, document }));
  }

  /** Every connected machine's report and desired state (every `bakeCheckInterval`: after a deployment, the document changed). */
  async function syncAll(): Promise<void> {
    await Promise.all(
      deps.link().connected().map(async (machine) => {
        const session = deps.link().sessionOf(machine);
        if (session) await syncMachine(session).catch((error: Error) => log.debug({ machine, err: error.message }, 'could not sync the machine now'));
      }),
    );
  }

  /** The log stream of an instance, from its machine's session. */
  async function openLogs(instance: string, query: { color?: Color; tail?: number; follow?: boolean }, signal: AbortSignal): Promise<{ color: string; body: Readable }> {
    const machine = await machineOf(instance);
    if (machine === null) throw notConnected('(none: no machine has joined)');
    return openSessionLogs(deps.link().sessionOf(machine), machine, instance, query, signal);
  }

  return { runtime, machineOf, openLogs, onConnect, localRollbacks, syncAll };
}
