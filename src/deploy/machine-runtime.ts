// The `Runtime` over many machines (issue 17): each instance-keyed call goes to the runtime of the
// instance's machine (one machine per instance, for now). The transport (the session a machine's
// agent opened, ADR 0019) gives a `Runtime` per connected machine; this only dispatches.
import { CutoverError } from '../shared/index.ts';
import type { Runtime, RuntimeArtifact } from './runtime.ts';

export interface MachineRuntimeDeps {
  /** The machine an instance is placed on; null: the local agent of a server no machine has joined. */
  machineOf(instance: string): Promise<string | null>;
  /** The runtime of a machine's live connection (or of the local agent, for null); undefined when it has none. */
  runtimeOf(machine: string | null): Runtime | undefined;
  /** The machines connected now, by name. */
  connected(): string[];
  /** When the machine's agent last reported (ms), for the error when it is not connected; optional. */
  lastReport?(machine: string): Promise<number | null>;
}

/** Every runtime to ask for fleet-wide calls: each connected machine's, and the local agent's, once. */
function everyRuntime(deps: MachineRuntimeDeps): { machine: string | null; runtime: Runtime }[] {
  const out: { machine: string | null; runtime: Runtime }[] = [];
  const seen = new Set<Runtime>();
  for (const machine of [...deps.connected(), null]) {
    const runtime = deps.runtimeOf(machine);
    if (runtime && !seen.has(runtime)) {
      seen.add(runtime);
      out.push({ machine, runtime });
    }
  }
  return out;
}

/** `AGENT_UNREACHABLE`, naming the machine and, when known, when its agent last reported. */
async function unreachable(deps: MachineRuntimeDeps, machine: string | null, instance?: string): Promise<CutoverError> {
  const about = instance === undefined ? '' : ` (instance "${instance}" runs there)`;
  if (machine === null) {
    return new CutoverError('AGENT_UNREACHABLE', `the local agent is not connected${about}; start it (\`cutover agent\`, or \`cutover up\`)`, { details: { machine: null } });
  }
  const at = await deps.lastReport?.(machine).catch(() => null);
  const last = at ? `; its agent last reported at ${new Date(at).toISOString()}` : '; its agent has not reported since the server started';
  return new CutoverError('AGENT_UNREACHABLE', `machine ${machine} is not connected${last}${about}`, { details: { machine, ...(at ? { lastReport: at } : {}) } });
}

/**
 * A `Runtime` that sends each call to the instance's machine: `machineOf` then `runtimeOf`. A
 * machine without a connection is `AGENT_UNREACHABLE` naming it. `listArtifacts` is the union over
 * the connected machines (in use on any is in use); `deleteArtifact` deletes on each that holds it,
 * and on none while any uses it (`SLOT_BUSY`).
 */
export function createMachineRuntime(deps: MachineRuntimeDeps): Runtime {
  async function on(instance: string): Promise<Runtime> {
    const machine = await deps.machineOf(instance);
    const runtime = deps.runtimeOf(machine);
    if (!runtime) throw await unreachable(deps, machine, instance);
    return runtime;
  }

  return {
    ensureArtifact: async (instance, digest, open) => (await on(instance)).ensureArtifact(instance, digest, open),
    ensureInstance: async (name, hosts) => (await on(name)).ensureInstance(name, hosts),
    startSlot: async (spec) => (await on(spec.instance)).startSlot(spec),
    waitHealthy: async (instance, color, timeoutMs) => (await on(instance)).waitHealthy(instance, color, timeoutMs),
    flip: async (instance, color, expectVersion, reason) => (await on(instance)).flip(instance, color, expectVersion, reason),
    shift: async (instance, color, percent) => (await on(instance)).shift(instance, color, percent),
    setPreview: async (instance, token) => (await on(instance)).setPreview(instance, token),
    setMaintenance: async (instance, maintenance) => (await on(instance)).setMaintenance(instance, maintenance),
    stopSlot: async (instance, color) => (await on(instance)).stopSlot(instance, color),
    removeInstance: async (name) => (await on(name)).removeInstance(name),
    describe: async (instance) => (await on(instance)).describe(instance),
    stats: async (instance) => (await on(instance)).stats(instance),
    runTest: async (spec) => (await on(spec.instance)).runTest(spec),
    cancelTest: async (instance) => (await on(instance)).cancelTest(instance),

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
      if (!runtime) throw await unreachable(deps, document.machine);
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
        if (held?.inUse) throw new CutoverError('SLOT_BUSY', `a slot on ${machine === null ? 'the local agent' : `machine ${machine}`} runs ${digest}; it is deleted once no slot uses it`, { details: { digest, machine } });
        if (held) holders.push(runtime);
      }
      // Checked on every machine first, so an artifact in use somewhere is deleted nowhere.
      for (const runtime of holders) await runtime.deleteArtifact(digest);
    },
  };
}
