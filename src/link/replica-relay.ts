// How this replica reaches the machines whose agents are connected to other replicas of the same
// database (issue 19, ADR 0025): a call for such a machine goes through the `ReplicaBus` to the
// replica holding its session, which runs it there; and this replica runs the calls others relay to
// the machines whose sessions it holds. Which replica holds which machine is read from the bus
// (again whenever a claim changes, and every few seconds), so `connected()` stays synchronous.
import { CutoverError } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import type { MachineHolder, ReplicaBus } from '../store/index.ts';
import { MESSAGE_NAMES, specOf, timeoutOf } from '../protocol/index.ts';
import type { MessageName } from '../protocol/index.ts';
import type { AgentLink } from './agent-link.ts';
import type { SendMessage } from './runtime-over.ts';
import { notConnected } from './session-runtime.ts';

/** How often the holders are read even when no claim was announced (a replica that died says nothing). */
const REFRESH_MS = 2000;
/** Added to a message's own timeout: the holder's session times out first, with the agent's message. */
const RELAY_MARGIN_MS = 5000;

export interface ReplicaRelay {
  /** The live replica holding `machine`'s session when it is not this one, as last read. */
  remoteHolder(machine: string): MachineHolder | undefined;
  /** Machines connected to any live replica: this one's sessions and the others'. */
  connected(): string[];
  /** Sends a message to `machine` through the replica holding its session. */
  send(machine: string): SendMessage;
  /** Reads which replica holds each machine now (the list is otherwise read on claims and every few seconds). */
  refresh(): Promise<void>;
  /** Starts serving relayed calls; `onDesiredChanged` when instances or machines changed on any replica. */
  start(onDesiredChanged: () => void): Promise<void>;
  /** Ends `machine`'s session wherever it is held (this replica's link does so for its own). */
  disconnect(machine: string, why: string): Promise<void>;
  close(): Promise<void>;
}

export function createReplicaRelay(deps: { bus: ReplicaBus; link: () => AgentLink; log: Logger }): ReplicaRelay {
  const { bus, log } = deps;
  let remote = new Map<string, MachineHolder>();
  let reading: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  /** Reads the holders; a read asked for while one runs runs once more after it. */
  function refresh(): Promise<void> {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        const holders = await bus.holders().catch((error: Error) => {
          log.debug({ err: error.message }, 'could not read which replica holds each machine');
          return undefined;
        });
        if (holders) remote = new Map(holders.filter((h) => h.serverId !== bus.serverId).map((h) => [h.machine, h]));
      } while (again);
    })().finally(() => (reading = undefined));
    return reading;
  }

  /** A call another replica relays here: only an agent message this replica could send itself, on a session it holds. */
  async function serve(machine: string, type: string, body: unknown): Promise<unknown> {
    if (!(MESSAGE_NAMES as string[]).includes(type) || specOf(type as MessageName).stream === 'answer') {
      throw new CutoverError('VALIDATION_FAILED', `${JSON.stringify(type)} is not an agent message that can be relayed`);
    }
    const session = deps.link().sessionOf(machine);
    if (!session || session.closed) throw notConnected(machine);
    return session.call(type as MessageName, body as never);
  }

  return {
    remoteHolder(machine) {
      return deps.link().sessionOf(machine) ? undefined : remote.get(machine);
    },
    connected() {
      return [...new Set([...deps.link().connected(), ...remote.keys()])];
    },
    send(machine) {
      return ((name, request) =>
        bus.call(machine, name, request, { timeoutMs: timeoutOf(name, request) + RELAY_MARGIN_MS })) as SendMessage;
    },
    async start(onDesiredChanged) {
      await bus.start({ serve, onClaimsChanged: () => void refresh(), onDesiredChanged, onDisconnect: (machine, why) => deps.link().disconnect(machine, why) });
      await refresh();
      timer = setInterval(() => void refresh(), REFRESH_MS);
      timer.unref();
    },
    refresh,
    disconnect: (machine, why) => bus.disconnect(machine, why),
    async close() {
      clearInterval(timer);
      await reading;
      await bus.close();
    },
  };
}
