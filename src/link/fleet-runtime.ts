// The server's view of its machines through their sessions: the `Runtime` that sends each call to
// the session of the instance's machine, and what happens when a machine connects — its instances
// placed (an earlier version's install upgraded in place), its local rollbacks recorded, what it
// runs kept for drift, and its desired-state document sent.
import type { Readable } from 'node:stream';
import { CutoverError, isCutoverError, systemActor } from '../shared/index.ts';
import type { Clock, Color, Logger } from '../shared/index.ts';
import type { Store } from '../store/index.ts';
import {
  edgeCertificatesFor,
  instancesOnMachine,
  machinesOf,
  nextDesiredState,
  placeUnplacedInstances,
  recordDesiredAnswer,
  recordHeldCertificates,
  recordMachineReport,
  reportedCertificates,
} from '../control/index.ts';
import type { DesiredState } from '../protocol/index.ts';
import { createLocalRollbackReconciler, createMachineRuntime } from '../deploy/index.ts';
import { planConverge } from '../deploy/index.ts';
import type { ConvergeOutcome, LocalRollbackDeps, LocalRollbackOutcome, LocalRollbackReconciler, Runtime, RuntimeInstance } from '../deploy/index.ts';
import type { AgentLink } from './agent-link.ts';
import type { AgentSession } from './session.ts';
import type { InstanceStats } from '../protocol/index.ts';
import type { ReplicaRelay } from './replica-relay.ts';
import { runtimeOver } from './runtime-over.ts';
import type { SendMessage } from './runtime-over.ts';
import { notConnected, openSessionLogs } from './session-runtime.ts';

/** How long a relayed call looks for its machine again after the replica holding it is found gone (its agent reconnects within seconds). */
const HOLDER_CHANGE_WAIT_MS = 3000;
/** How long a call waits for the instance's machines to connect before it goes on without them. */
const CONNECT_GRACE_MS = 3000;
/** How long after this server's start, or after a machine's session ended, a call waits for it. */
const RECONNECT_WINDOW_MS = 15_000;
/** Changes that come together (a deployment's steps) push one document. */
const DESIRED_DEBOUNCE_MS = 100;

export interface FleetRuntimeDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** The sessions (set once the link exists: the link calls back into the fleet when a machine connects). */
  link: () => AgentLink;
  localRollbacks: Omit<LocalRollbackDeps, 'store' | 'clock'>;
  /** How long the commit of a flip waits for each machine's acknowledgement (`flipTimeout`). */
  flipTimeoutMs?: number;
  /**
   * The machines connected to the other replicas of the database, reached through them (ADR 0025);
   * none with one server.
   */
  relay?: ReplicaRelay;
  /** Brings one machine of an instance to its desired state (the deployer's `converge`; set once it exists). */
  converge?: () => ((instance: string, machine: string) => Promise<ConvergeOutcome>) | undefined;
  /** This replica's key ring, read at each use: it opens the edge certificates' keys on their way to a machine (ADR 0029). */
  keyRing?: () => ReadonlyMap<string, Buffer>;
}

export function createFleetRuntime(deps: FleetRuntimeDeps) {
  const { store, clock, log } = deps;
  const runtimes = new Map<string, Runtime>();
  /** Connected to this replica, or to another live one of the database. */
  const reachable = (machine: string): boolean => deps.link().sessionOf(machine) !== undefined || deps.relay?.remoteHolder(machine) !== undefined;
  const localSession = (machine: string) => {
    const session = deps.link().sessionOf(machine);
    return session && !session.closed ? session : undefined;
  };
  /** A message to the machine over its session here, whichever it has at the time, else through the replica holding it. */
  const sendTo = (machine: string): SendMessage =>
    ((name, request) => {
      const session = localSession(machine);
      if (session) return session.call(name, request);
      if (deps.relay?.remoteHolder(machine)) return relayed(deps.relay, machine, name, request);
      return Promise.reject(notConnected(machine));
    }) as SendMessage;

  /**
   * A call through the replica this one last read as the machine's holder. That list lags a
   * replica's death by up to its refresh, and the dead replica's agents reconnect within seconds:
   * when the relay answers the machine unreachable, the holders are read again and the call goes to
   * wherever the machine is now (here or another replica), for up to {@link HOLDER_CHANGE_WAIT_MS}.
   * Sending it again is safe: the agent answers a repeated `once` call from what it remembers.
   */
  async function relayed(relay: ReplicaRelay, machine: string, name: Parameters<SendMessage>[0], request: Parameters<SendMessage>[1]): Promise<unknown> {
    const deadline = Date.now() + HOLDER_CHANGE_WAIT_MS;
    for (;;) {
      try {
        return await relay.send(machine)(name, request);
      } catch (error) {
        if (!isCutoverError(error) || error.code !== 'AGENT_UNREACHABLE' || Date.now() >= deadline) throw error;
        for (;;) {
          await new Promise((r) => setTimeout(r, 100));
          await relay.refresh();
          const session = localSession(machine);
          if (session) return session.call(name, request);
          if (relay.remoteHolder(machine)) break;
          if (Date.now() >= deadline) throw error;
        }
      }
    }
  }
  const runtimeOf = (machine: string): Runtime | undefined => {
    if (!reachable(machine)) return undefined;
    let runtime = runtimes.get(machine);
    if (!runtime) runtimes.set(machine, (runtime = reportingFlips(machine, runtimeOver(sendTo(machine), async () => {}))));
    return runtime;
  };
  /** Machines connected to any live replica. */
  const connected = (): string[] => deps.relay?.connected() ?? deps.link().connected();

  /**
   * A machine's runtime whose flips refresh the machine's recorded report at once (in the
   * background), so `status` shows what a machine serves even when it is lost right after a flip,
   * before the next periodic sync.
   */
  function reportingFlips(machine: string, runtime: Runtime): Runtime {
    return {
      ...runtime,
      async flip(...args) {
        const flipped = await runtime.flip(...args);
        if (reachable(machine)) {
          void sendTo(machine)('agent.state', {})
            .then((state) => recordMachineReport({ store, clock }, machine, state))
            .catch((error: Error) => log.debug({ machine, err: error.message }, 'could not record what the machine serves after a flip'));
        }
        return flipped;
      },
    };
  }

  /**
   * The machines an instance runs on (its placement against the machines' labels); an instance the
   * records do not know (being deleted) is asked of every connected machine.
   */
  async function placedMachines(instance: string): Promise<string[]> {
    const [record, machines] = await Promise.all([store.getInstance(instance), store.listMachines()]);
    if (!record) return deps.link().connected();
    return machinesOf(record.placement, machines);
  }

  /**
   * The instance's machines, waiting up to {@link CONNECT_GRACE_MS} for those not connected when
   * they are likely to come back at once: in the first seconds after this server started (every
   * agent reconnects then, and an agent started on the same data directory joins: until then an
   * instance may be placed on no machine), or — when none of them is connected — right after a session ended.
   * A rollback with one machine gone does not wait: the others are connected.
   */
  const started = performance.now();
  async function connectedMachinesOf(instance: string): Promise<string[]> {
    const deadline = Date.now() + CONNECT_GRACE_MS;
    for (;;) {
      const machines = await placedMachines(instance);
      const away = machines.filter((m) => !reachable(m));
      // None placed yet in the first seconds: the agent of this data directory may still be joining.
      if ((machines.length > 0 && away.length === 0) || Date.now() >= deadline) return machines;
      const justStarted = performance.now() - started < RECONNECT_WINDOW_MS;
      const noneConnected = away.length === machines.length;
      const recentlyLost = away.some((m) => {
        const lostAt = deps.link().lostAt(m);
        return lostAt !== undefined && performance.now() - lostAt < RECONNECT_WINDOW_MS;
      });
      if (!justStarted && !(noneConnected && recentlyLost)) return machines;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const runtime = createMachineRuntime({
    machinesOf: connectedMachinesOf,
    runtimeOf,
    connected,
    lastReport: async (machine) => (await store.getMachine(machine))?.lastHeartbeat ?? null,
    ...(deps.flipTimeoutMs !== undefined ? { flipTimeoutMs: deps.flipTimeoutMs } : {}),
    log,
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
      await Promise.all(deps.link().connected().map(async (m) => spreadLocalRollbacks(await reconcilerOf(m).run()).catch(() => undefined)));
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
    await step('recording its local rollbacks', async () => spreadLocalRollbacks(await reconcilerOf(machine).run()));
    await step('recording what it runs and sending its desired state', () => syncMachine(session));
  }

  /**
   * A local rollback on one machine is a rollback of the whole instance: once recorded, every other
   * connected machine of it flips to the same warm slot at once (one barrier, as any rollback).
   */
  async function spreadLocalRollbacks(outcomes: LocalRollbackOutcome[]): Promise<void> {
    for (const o of outcomes) {
      if (o.outcome !== 'record' || !o.deployment) continue;
      const d = await store.getDeployment(o.deployment);
      if (!d) continue;
      const flipped = await runtime.flip(d.instance, d.toColor, d.toVersion, 'rollback').catch((error: Error) => log.warn({ instance: d.instance, err: error.message }, 'could not flip the other machines after a local rollback; they converge at the next round'));
      if (flipped) log.info({ instance: d.instance, to: d.toVersion, ...(flipped.pending ? { pending: flipped.pending } : {}) }, 'a local rollback spread to the instance\'s other machines');
    }
  }

  /**
   * Each instance placed on the machine whose report differs from its records is brought to them
   * (`converge`: never while a deployment holds the instance; one at a time per machine and
   * instance); an instance the machine serves but is no longer placed on is removed
   * (its routes drain, its slots stop).
   */
  const converging = new Set<string>();
  async function convergeMachine(machine: string, reported: RuntimeInstance[]): Promise<void> {
    const converge = deps.converge?.();
    if (!converge) return;
    const placed = await instancesOnMachine(store, machine);
    const byName = new Map(reported.map((r) => [r.name, r]));
    const work: Promise<unknown>[] = [];
    for (const instance of placed) {
      const key = `${machine}/${instance.name}`;
      if (converging.has(key) || planConverge(instance, byName.get(instance.name)).length === 0) continue;
      converging.add(key);
      work.push(
        converge(instance.name, machine)
          .catch((error: Error) => log.warn({ machine, instance: instance.name, err: error.message }, 'could not bring the machine to the instance\'s desired state; tried again at the next round'))
          .finally(() => converging.delete(key)),
      );
    }
    const placedNames = new Set(placed.map((i) => i.name));
    for (const r of reported) {
      if (placedNames.has(r.name)) continue;
      const record = await store.getInstance(r.name);
      // An instance placed elsewhere leaves, and so does one deleted while the machine was away; one
      // the records keep without a placement (an earlier install, not placed yet) stays.
      if (record && !record.placement) continue;
      log.info({ machine, instance: r.name }, 'the instance left this machine\'s placement; removing it there');
      work.push(runtime.on([machine]).removeInstance(r.name).catch((error: Error) => log.warn({ machine, instance: r.name, err: error.message }, 'could not remove the instance from the machine')));
    }
    await Promise.all(work);
  }

  /**
   * What the machine runs, kept for drift, and its desired-state document, sent when its number
   * is not the one the agent acknowledged (the number goes up only when the document changed).
   */
  async function syncMachine(session: AgentSession): Promise<void> {
    const machine = session.info.machine;
    const state = await session.call('agent.state', {});
    await recordMachineReport({ store, clock }, machine, state);
    await pushDesired(session);
    // In the background: a start and a health check take as long as they take.
    void convergeMachine(machine, state.instances).catch((error: Error) => log.warn({ machine, err: error.message }, 'could not look for instances to converge on the machine; tried again at the next round'));
  }

  /**
   * The machine's desired-state document, sent when its number is not the one the agent
   * acknowledged; then its edge certificates, when the document changed or the agent's last report
   * does not hold the ones it names.
   */
  async function pushDesired(session: AgentSession): Promise<void> {
    const machine = session.info.machine;
    const { number, document } = await nextDesiredState({ store, clock }, machine);
    const held = await store.getDesiredState(machine);
    const changed = held?.ackedNumber !== number && held?.rejectedNumber !== number;
    if (changed) {
      await recordDesiredAnswer({ store, clock }, machine, number, await session.call('machine.desired', { number, document }));
    }
    await pushCertificates(session, document, changed, held?.reported);
  }

  /**
   * `tls.put` over this replica's own session with the machine (never relayed: the keys do not
   * cross the database, ADR 0029), opened with this replica's key ring. An agent that predates the
   * message, or a ring that lacks a key, is logged and tried again at the next sync.
   */
  async function pushCertificates(session: AgentSession, document: DesiredState, changed: boolean, reported: Record<string, unknown> | null | undefined): Promise<void> {
    const machine = session.info.machine;
    const wanted = (document.certificates ?? []).map((c) => `${c.host} ${c.fingerprint}`).sort().join('\n');
    const has = reportedCertificates(reported).filter((c) => c.source === 'server').map((c) => `${c.hosts.join(',')} ${c.fingerprint}`).sort().join('\n');
    if ((!changed || wanted === '') && wanted === has) return;
    const ring = deps.keyRing?.();
    if (!ring) return;
    try {
      const pairs = await edgeCertificatesFor(store, ring, machine);
      const answer = await session.call('tls.put', { certificates: pairs.map(({ hosts, cert, key, isDefault }) => ({ hosts, cert, key, isDefault })) });
      await recordHeldCertificates({ store, clock }, machine, answer.certificates);
    } catch (error) {
      log.warn({ machine, err: (error as Error).message }, 'could not send the machine its TLS certificates; tried again at the next sync');
    }
  }

  /**
   * Instances or machines changed, on this replica or another (the bus says so): each machine whose
   * session this replica holds gets its new document at once, not at the next sync. Changes that
   * come together (a deployment's steps) are pushed once.
   */
  let nudged: NodeJS.Timeout | undefined;
  function desiredChanged(): void {
    if (nudged) return;
    nudged = setTimeout(() => {
      nudged = undefined;
      for (const machine of deps.link().connected()) {
        const session = deps.link().sessionOf(machine);
        if (session) void pushDesired(session).catch((error: Error) => log.debug({ machine, err: error.message }, 'could not push the desired state now; sent at the next sync'));
      }
    }, DESIRED_DEBOUNCE_MS);
    nudged.unref();
  }

  /**
   * An instance's counters as its agents pushed them to this replica (what the bake decides on),
   * when every machine of it pushes here; otherwise asked of each machine, wherever it is connected.
   */
  async function instanceStats(instance: string): Promise<InstanceStats | undefined> {
    const machines = await placedMachines(instance);
    return (machines.length > 0 ? deps.link().pushedStats(instance, machines) : undefined) ?? (await runtime.stats(instance));
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

  /** The log stream of an instance from one of its machines: `machine`, or the first connected one. */
  async function openLogs(instance: string, query: { color?: Color; tail?: number; follow?: boolean; machine?: string }, signal: AbortSignal): Promise<{ color: string; body: Readable; machine: string }> {
    const machines = await placedMachines(instance);
    if (query.machine !== undefined && !machines.includes(query.machine)) {
      throw new CutoverError('VALIDATION_FAILED', `instance "${instance}" does not run on machine "${query.machine}"; it runs on ${machines.join(', ') || 'no machine'}`, { details: { instance, machine: query.machine, machines } });
    }
    const machine = query.machine ?? machines.find((m) => deps.link().sessionOf(m)) ?? machines[0];
    if (machine === undefined) throw notConnected('(none: no machine runs it)');
    const elsewhere = deps.relay?.remoteHolder(machine);
    // A log stream is not relayed (its bytes would cross the database): the replica holding the machine serves it.
    if (elsewhere) {
      throw new CutoverError('AGENT_UNREACHABLE', `the agent of machine ${machine} is connected to another server replica (${elsewhere.replica ?? elsewhere.serverId}); ask that replica for its logs (\`cutover logs ${instance} --machine ${machine}\` with CUTOVER_URL naming that replica)`, {
        details: { machine, replica: elsewhere.replica, serverId: elsewhere.serverId },
      });
    }
    const { machine: _asked, ...rest } = query;
    return { ...(await openSessionLogs(deps.link().sessionOf(machine), machine, instance, rest, signal)), machine };
  }

  const stop = () => clearTimeout(nudged);
  return { runtime, openLogs, onConnect, localRollbacks, syncAll, desiredChanged, instanceStats, connected, stop };
}
