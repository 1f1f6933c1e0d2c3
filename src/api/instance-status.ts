import type { Clock, Color } from '../shared/index.ts';
import type { DeploymentRecord, InstanceRecord, Role, Store } from '../store/index.ts';
import type { AgentCheck, Runtime, RuntimeInstance } from '../deploy/index.ts';
import { compareWithAgent, spansMachines } from '../deploy/index.ts';
import { roleAllows, viewOf } from '../control/index.ts';
import type { InstanceView, loadPointerIndex } from '../control/index.ts';
import { mustGetInstance } from '../store/index.ts';

export interface InstanceStatusData extends InstanceView {
  /** What the agent reports now; `null` when the agent cannot be reached or does not know the instance. */
  runtime: RuntimeInstance | null;
  runtimeError?: string;
  /** The record compared with the agent's answer: whether it is routed as recorded, and each difference. */
  agent: AgentCheck;
  /** Each machine the instance is placed on: what it serves (asked now, or its last report when away). */
  machines?: MachineServing[];
  /**
   * On machines: every machine either acknowledged its current desired-state document and serves
   * the live release, or is away (it converges when back). False while a flip or convergence is
   * still on its way somewhere.
   */
  settled?: boolean;
  lastDeployment: DeploymentRecord | null;
}

/** What one machine of an instance serves. */
export interface MachineServing {
  name: string;
  connected: boolean;
  serving: { version: string; color: Color } | null;
  /** When that was seen (ms): now, or the machine's last report; null: never. */
  asOf: number | null;
  /** Whether it serves the live release of the records. */
  onDesired: boolean;
  /** Whether its agent acknowledged the current number of its desired-state document. */
  desiredAcked: boolean;
}

/** The live release of the records, the active colour's slot: what every machine should serve. */
const liveOf = (i: InstanceRecord) => (i.activeColor && i.slots[i.activeColor]?.status === 'live' ? i.slots[i.activeColor]!.version : null);

/** What a machine's router serves an instance from: its active colour's slot. */
function servingOf(report: Pick<RuntimeInstance, 'active' | 'slots'> | undefined): MachineServing['serving'] {
  const slot = report?.active ? report.slots.find((s) => s.color === report.active) : undefined;
  return slot && report?.active ? { version: slot.version, color: report.active } : null;
}

/** How long `status` waits for one machine's answer before it shows that machine's last report (a link silently down). */
const ASK_MS = 2000;

/** `work`'s answer within `ms`, or undefined (failed or too late). */
async function askWithin<T>(work: Promise<T>, ms: number): Promise<{ r: T } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work.then((r) => ({ r }), () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Each machine of an instance placed on machines: connected ones asked now (one describe each, in
 * parallel, each given {@link ASK_MS}), the others — and those that did not answer in time — from
 * their last report (the desired-state record keeps it), shown as not connected.
 */
async function machinesServing(deps: { store: Store; runtime: Runtime; clock: Clock }, instance: InstanceRecord): Promise<MachineServing[] | undefined> {
  const runtime = deps.runtime;
  if (!spansMachines(runtime)) return undefined;
  const where = await runtime.machinesOf(instance.name);
  const live = liveOf(instance);
  return Promise.all(
    where.machines.map(async (name): Promise<MachineServing> => {
      const connected = where.connected.includes(name);
      let serving: MachineServing['serving'] = null;
      let asOf: number | null = null;
      const [asked, held] = await Promise.all([connected ? askWithin(runtime.on([name]).describe(instance.name), ASK_MS) : undefined, deps.store.getDesiredState(name)]);
      if (asked) {
        serving = servingOf(asked.r);
        asOf = deps.clock.now();
      } else {
        const reported = (held?.reported as { instances?: RuntimeInstance[] } | null)?.instances?.find((r) => r.name === instance.name);
        serving = servingOf(reported);
        asOf = held?.reportedAt ?? null;
      }
      const desiredAcked = held !== undefined && held.number > 0 && held.ackedNumber === held.number;
      return { name, connected: asked !== undefined, serving, asOf, onDesired: serving !== null && serving.version === live, desiredAcked };
    }),
  );
}

/** An instance as stored, with its resolved target, what the agent reports and its last deployment. */
export async function instanceStatus(
  deps: { store: Store; runtime: Runtime; clock: Clock },
  name: string,
  index: Awaited<ReturnType<typeof loadPointerIndex>>,
): Promise<InstanceStatusData> {
  const instance = await mustGetInstance(deps.store, name);
  const [last] = await deps.store.listDeployments({ instance: name, limit: 1 });
  let runtime: RuntimeInstance | null = null;
  let runtimeError: string | undefined;
  try {
    runtime = (await deps.runtime.describe(name)) ?? null;
  } catch (error) {
    runtimeError = (error as Error).message;
  }
  const lock = await deps.store.getLock(name);
  const agent = compareWithAgent(instance, runtime ?? undefined, {
    ...(runtimeError === undefined ? {} : { error: runtimeError }),
    locked: lock !== undefined && lock.expiresAt > deps.clock.now(),
  });
  const machines = await machinesServing(deps, instance);
  const settled = machines?.every((m) => !m.connected || (m.onDesired && m.desiredAcked));
  return {
    ...viewOf(instance, index),
    runtime,
    ...(runtimeError ? { runtimeError } : {}),
    agent,
    ...(machines ? { machines, settled: settled ?? true } : {}),
    lastDeployment: last ?? null,
  };
}

/**
 * Slot ports answer on 127.0.0.1 without the router's checks (no preview token, no maintenance
 * page), so any local user who knows one reaches an idle or preview slot directly (review L7).
 * They are shown to deployers and admins, who run code on the agent's machine anyway, and left
 * out for viewers: in the runtime view and in the `start` step's detail.
 */
function seesSlotPorts(role: Role): boolean {
  return roleAllows(role, 'deployer');
}

function withoutPort<T extends object>(value: T): T {
  if (!('port' in value)) return value;
  const { port: _port, ...rest } = value as T & { port: unknown };
  return rest as T;
}

/** A step's detail without slot ports: its own, and each machine's (`slots`, an instance on several machines). */
function detailWithoutPorts(detail: Record<string, unknown>): Record<string, unknown> {
  const out = withoutPort(detail);
  if (!('slots' in out) || typeof out.slots !== 'object' || out.slots === null) return out;
  const slots = Object.fromEntries(Object.entries(out.slots).map(([m, v]) => [m, typeof v === 'object' && v !== null ? withoutPort(v as object) : v]));
  return { ...out, slots };
}

/** A deployment as a viewer sees it: no slot port in its steps' details. */
function deploymentForViewer(d: DeploymentRecord): DeploymentRecord {
  if (!d.steps.some((s) => s.detail && ('port' in s.detail || 'slots' in s.detail))) return d;
  return { ...d, steps: d.steps.map((s) => (s.detail ? { ...s, detail: detailWithoutPorts(s.detail) } : s)) };
}

/** An instance status as `role` may see it. */
export function statusForRole(status: InstanceStatusData, role: Role): InstanceStatusData {
  if (seesSlotPorts(role)) return status;
  return {
    ...status,
    runtime: status.runtime ? { ...status.runtime, slots: status.runtime.slots.map(withoutPort) } : null,
    lastDeployment: status.lastDeployment ? deploymentForViewer(status.lastDeployment) : null,
  };
}

/** A deployment as `role` may see it. */
export function deploymentForRole(d: DeploymentRecord, role: Role): DeploymentRecord {
  return seesSlotPorts(role) ? d : deploymentForViewer(d);
}
