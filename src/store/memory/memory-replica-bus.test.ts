import { replicaBusContract } from '../replica-bus-contract.ts';
import { createMemoryBusHub, createMemoryReplicaBus } from './memory-replica-bus.ts';

replicaBusContract('memory replica bus', async () => {
  const hub = createMemoryBusHub();
  const buses = new Map<unknown, ReturnType<typeof createMemoryReplicaBus>>();
  return {
    open(serverId, replica) {
      const bus = createMemoryReplicaBus(hub, serverId, replica ?? null);
      buses.set(bus, bus);
      return bus;
    },
    kill: async (bus) => buses.get(bus)!.kill(),
    changeInstances: async () => hub.desiredChanged(),
    cleanup: async () => {},
  };
});
