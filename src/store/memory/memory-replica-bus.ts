// The in-memory `ReplicaBus`: replicas of one process sharing a hub (what the database is to the
// PostgreSQL bus). For unit tests of what relays; it passes the same contract suite.
import { fromRelayedError, noHolder, relayTimeout, relayedError } from '../replica-bus.ts';
import type { MachineHolder, ReplicaBus, ReplicaBusListeners } from '../replica-bus.ts';

interface Member {
  replica: string | null;
  listeners: ReplicaBusListeners | undefined;
  alive: boolean;
  /** Calls waiting on this replica as holder: each fails when it dies. */
  waiting: Set<(error: Error) => void>;
}

/** What several memory buses share: the claims and the replicas. */
export interface MemoryBusHub {
  claims: Map<string, string>;
  members: Map<string, Member>;
  /** Tells every live replica that instances or machines changed (what the PostgreSQL trigger does). */
  desiredChanged(): void;
}

export function createMemoryBusHub(): MemoryBusHub {
  const members = new Map<string, Member>();
  return {
    claims: new Map(),
    members,
    desiredChanged() {
      for (const m of members.values()) if (m.alive) m.listeners?.onDesiredChanged?.();
    },
  };
}

/** A copy through JSON, as answers and bodies cross the database. */
const viaJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

export function createMemoryReplicaBus(hub: MemoryBusHub, serverId: string, replica: string | null = null): ReplicaBus & { kill(): void } {
  const me = (): Member => {
    let m = hub.members.get(serverId);
    if (!m) hub.members.set(serverId, (m = { replica, listeners: undefined, alive: false, waiting: new Set() }));
    return m;
  };
  const liveHolder = (machine: string): MachineHolder | undefined => {
    const holder = hub.claims.get(machine);
    const m = holder === undefined ? undefined : hub.members.get(holder);
    return holder !== undefined && m?.alive ? { machine, serverId: holder, replica: m.replica } : undefined;
  };
  const claimsChanged = () => {
    for (const m of hub.members.values()) if (m.alive) m.listeners?.onClaimsChanged?.();
  };
  const die = () => {
    const m = me();
    m.alive = false;
    for (const fail of m.waiting) fail(new Error('died'));
    m.waiting.clear();
  };

  return {
    serverId,
    async start(listeners) {
      Object.assign(me(), { listeners, alive: true });
    },
    async claim(machine) {
      hub.claims.set(machine, serverId);
      claimsChanged();
    },
    async release(machine) {
      if (hub.claims.get(machine) !== serverId) return;
      hub.claims.delete(machine);
      claimsChanged();
    },
    async holders() {
      return [...hub.claims.keys()].flatMap((machine) => liveHolder(machine) ?? []);
    },
    holderOf: async (machine) => liveHolder(machine),
    async alive(id) {
      return hub.members.get(id)?.alive;
    },
    async call(machine, type, body, { timeoutMs }) {
      const holder = liveHolder(machine);
      const served = holder && hub.members.get(holder.serverId);
      if (!served?.listeners) throw noHolder(machine);
      return new Promise((resolve, reject) => {
        const fail = () => {
          clearTimeout(timer);
          reject(noHolder(machine, `its replica ${holder!.serverId} died during ${type}`));
        };
        const timer = setTimeout(() => {
          served.waiting.delete(fail);
          reject(relayTimeout(machine, type, timeoutMs));
        }, timeoutMs);
        timer.unref();
        served.waiting.add(fail);
        served.listeners!.serve(machine, type, viaJson(body)).then(
          (answer) => {
            if (!served.waiting.delete(fail)) return;
            clearTimeout(timer);
            resolve(viaJson(answer));
          },
          (error: unknown) => {
            if (!served.waiting.delete(fail)) return;
            clearTimeout(timer);
            reject(fromRelayedError(relayedError(error)));
          },
        );
      });
    },
    async disconnect(machine, why) {
      for (const m of hub.members.values()) if (m.alive) m.listeners?.onDisconnect?.(machine, why);
    },
    async close() {
      for (const [machine, holder] of hub.claims) if (holder === serverId) hub.claims.delete(machine);
      die();
      claimsChanged();
    },
    /** Dies as a SIGKILLed replica does: its claims stay in the hub but count as none. */
    kill: die,
  };
}
