import { COLORS } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import type { DrainStatus, Supervisor } from '../supervisor/index.ts';
import type { InstanceReport, SlotReport } from '../protocol/index.ts';
import type { AgentState } from './agent-state.ts';
import type { createSlotIdentity } from './slot-identity.ts';

export interface DescribeDeps {
  router: Pick<Router, 'state'>;
  supervisor: Pick<Supervisor, 'get'>;
  identity: Pick<ReturnType<typeof createSlotIdentity>, 'isolationOf'>;
  state: AgentState;
}

/** What the app's drain endpoint said last, as `describe` reports it. */
function drainOf(d: DrainStatus): NonNullable<SlotReport['drain']> {
  return {
    done: d.done,
    ...(d.pending === undefined ? {} : { pending: d.pending }),
    ...(d.message === undefined ? {} : { message: d.message }),
    ...(d.error === undefined ? {} : { error: d.error }),
  };
}

/** What runs for each instance (or the one named): routes as the router has them, slots as the supervisor sees them. */
export function describeInstances({ router, supervisor, identity, state }: DescribeDeps, name?: string): InstanceReport[] {
  const routes = new Map(router.state().map((r) => [r.name, r]));
  return Object.entries(state.instances)
    .filter(([n]) => name === undefined || n === name)
    .map(([n, inst]): InstanceReport => {
      const r = routes.get(n);
      const shiftingTo = r?.shiftingTo ?? null;
      return {
        name: n,
        hosts: inst.hosts,
        isolation: identity.isolationOf(inst),
        active: r?.active ?? null,
        ...(shiftingTo && r ? { shift: { color: shiftingTo, percent: r.weights[shiftingTo] } } : {}),
        preview: r?.preview ?? inst.preview !== undefined,
        maintenance: r?.maintenance ?? inst.maintenance !== undefined,
        slots: COLORS.flatMap((c) => {
          const slot = inst.slots[c];
          if (!slot) return [];
          const info = supervisor.get(n, c);
          return [
            {
              color: c,
              version: slot.version,
              deploymentId: slot.deploymentId,
              state: info?.state ?? 'stopped',
              restarts: info?.restarts ?? 0,
              ...(info?.state === 'stopping' && info.drain ? { drain: drainOf(info.drain) } : {}),
              ...(info ? { port: info.port } : {}),
              ...(info?.pid === undefined ? {} : { pid: info.pid }),
            },
          ];
        }),
      };
    });
}
