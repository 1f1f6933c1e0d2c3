// Where an instance runs (issues 17, 18): named machines or a machine label selector. Pure: the
// services (`instances.ts`, `machines.ts`) load the machines and the instances, ask here, and throw
// what comes back; the deployer's fan-out asks `machinesOf` which machines a call goes to.
import type { ErrorCode } from '../shared/index.ts';
import type { InstancePlacement, InstanceRecord, MachineRecord } from '../store/index.ts';
import { globMatch, parseSelector } from './selector.ts';
import type { Selector, SelectorTerm } from './selector.ts';

/** A placement, or why not (a code and a message that says what to do). */
export type PlaceOutcome =
  | { ok: true; placement: InstancePlacement | null }
  | { ok: false; code: ErrorCode; message: string; details: Record<string, unknown> };

/** What a user asked for: `--machine` (repeatable) or `--machine-selector`, or neither. */
export interface PlacementRequest {
  machines?: string[];
  selector?: string;
}

const refuse = (code: ErrorCode, message: string, details: Record<string, unknown>): PlaceOutcome => ({ ok: false, code, message, details });
const names = (machines: readonly MachineRecord[]) => machines.map((m) => m.name).join(', ');

/**
 * A machine's value for a selector term: `name` is the machine's name; every other key is one of
 * its labels (`role=web`, `zone=a`; `environment=prod` reads the label `environment`, or `env`).
 */
function machineValue(term: SelectorTerm, machine: Pick<MachineRecord, 'name' | 'labels'>): string | null {
  if (term.field === 'name') return machine.name;
  const key = term.field === 'label' ? term.label : term.field;
  const labels = machine.labels;
  if (Object.hasOwn(labels, key)) return labels[key] ?? null;
  if (key === 'environment' && Object.hasOwn(labels, 'env')) return labels.env ?? null;
  return null;
}

/** Whether a machine's name and labels satisfy every term (the `--selector` grammar, over machines). */
export function machineMatches(selector: Selector, machine: Pick<MachineRecord, 'name' | 'labels'>): boolean {
  for (const term of selector.terms) {
    const actual = machineValue(term, machine);
    const equal = actual !== null && globMatch(term.value, actual);
    if (equal === term.negate) return false;
  }
  return true;
}

/**
 * The machines an instance runs on now, by name, sorted: the named ones, or those whose labels
 * match its selector, that are not removed (a draining machine keeps serving what it has until it
 * is removed, so it is still flipped with the others); with no placement, the only live machine.
 */
export function machinesOf(placement: InstancePlacement | null, machines: readonly MachineRecord[]): string[] {
  const live = machines.filter((m) => m.status !== 'removed');
  if (placement === null) return live.length === 1 ? [live[0]!.name] : [];
  // A named machine not known (yet) still counts: it is reported unreachable, never silently dropped.
  if ('machines' in placement) {
    const removed = new Set(machines.filter((m) => m.status === 'removed').map((m) => m.name));
    return placement.machines.filter((m) => !removed.has(m)).sort();
  }
  const selector = parseSelector(placement.selector);
  return live.filter((m) => machineMatches(selector, m)).map((m) => m.name).sort();
}

/** The active machines of a placement: those a deployment may count on (`drain` and `remove` keep at least one). */
export function activeMachinesOf(placement: InstancePlacement | null, machines: readonly MachineRecord[]): string[] {
  const active = new Set(machines.filter((m) => m.status === 'active').map((m) => m.name));
  return machinesOf(placement, machines).filter((m) => active.has(m));
}

/** Whether the instance is placed on `machine` (the desired state of that machine lists it). */
export const placedOn = (instance: Pick<InstanceRecord, 'placement'>, machine: string, machines: readonly MachineRecord[]): boolean =>
  machinesOf(instance.placement, machines).includes(machine);

/** `web-1, web-2` or `role=web`: how a placement reads in messages, lists and the audit. */
export function placementText(placement: InstancePlacement | null): string {
  if (placement === null) return '(the only machine)';
  return 'machines' in placement ? placement.machines.join(', ') : `selector ${placement.selector}`;
}

/**
 * The placement a new or changed instance gets.
 * - `--machine` names (one or more): each must exist (`MACHINE_NOT_FOUND`) and be active (a
 *   draining or removed machine takes nothing new: `MACHINE_NOT_ACTIVE`, naming its status).
 * - `--machine-selector`: checked against the grammar (`VALIDATION_FAILED`); it may match no machine
 *   yet (machines with those labels join later) — a deployment then says no machine runs it.
 * - both: `VALIDATION_FAILED`.
 * - neither: no live machine at all → null (the one local agent of a server without machines);
 *   exactly one active machine → that one; several → `MACHINE_REQUIRED`, naming them and the flags;
 *   only draining ones → `MACHINE_NOT_ACTIVE`.
 */
export function choosePlacement(request: PlacementRequest, machines: readonly MachineRecord[]): PlaceOutcome {
  const named = request.machines && request.machines.length > 0 ? [...new Set(request.machines)] : undefined;
  if (named && request.selector !== undefined) {
    return refuse('VALIDATION_FAILED', 'give either --machine (named machines) or --machine-selector (machines by label), not both', { machines: named, selector: request.selector });
  }
  if (request.selector !== undefined) {
    parseSelector(request.selector); // throws VALIDATION_FAILED naming the bad term
    return { ok: true, placement: { selector: request.selector.trim() } };
  }
  if (named) {
    for (const requested of named) {
      const machine = machines.find((m) => m.name === requested);
      if (!machine || machine.status === 'removed') {
        const live = machines.filter((m) => m.status !== 'removed');
        return refuse('MACHINE_NOT_FOUND', `no machine named "${requested}"; machines: ${names(live) || 'none yet (agents join with a join token)'}`, { machine: requested });
      }
      if (machine.status !== 'active') {
        return refuse('MACHINE_NOT_ACTIVE', `machine "${requested}" is ${machine.status} and takes no new instances; choose an active machine (\`cutover machine list\`)`, {
          machine: requested,
          status: machine.status,
        });
      }
    }
    return { ok: true, placement: { machines: named.sort() } };
  }
  const live = machines.filter((m) => m.status !== 'removed');
  if (live.length === 0) return { ok: true, placement: null };
  const active = live.filter((m) => m.status === 'active');
  if (active.length === 1) return { ok: true, placement: { machines: [active[0]!.name] } };
  if (active.length === 0) {
    return refuse('MACHINE_NOT_ACTIVE', `every machine is draining (${names(live)}), so none takes a new instance; join another machine or give --machine once one is active`, {
      machines: live.map((m) => m.name),
    });
  }
  return refuse('MACHINE_REQUIRED', `there are ${active.length} active machines (${names(active)}); say which run the instance with --machine NAME (repeatable) or --machine-selector LABEL=VALUE`, {
    machines: active.map((m) => m.name),
  });
}

/**
 * The instances that would be left without an active machine if `leaving` stopped being one
 * (`machine drain` and `remove` refuse then): each instance with a deployed release whose active
 * machines are exactly {leaving}.
 */
export function strandedBy(leaving: string, instances: readonly InstanceRecord[], machines: readonly MachineRecord[]): string[] {
  return instances
    .filter((i) => hasDeployedRelease(i))
    .filter((i) => {
      const active = activeMachinesOf(i.placement, machines);
      return active.length === 1 && active[0] === leaving;
    })
    .map((i) => i.name);
}

/** Whether an instance has a release deployed (a current version or any slot). */
export const hasDeployedRelease = (i: InstanceRecord): boolean => i.currentVersion !== null || i.slots.blue !== null || i.slots.green !== null;

/**
 * A change of a deployed instance's placement that would leave it on no active machine is refused
 * (`INSTANCE_MOVE_UNSUPPORTED` names what to do); any other change is allowed: machines entering
 * get the live and warm releases from the server, machines leaving have the instance removed.
 */
export function changePlacement(instance: InstanceRecord, request: PlacementRequest, machines: readonly MachineRecord[]): PlaceOutcome {
  const chosen = choosePlacement(request, machines);
  if (!chosen.ok || !hasDeployedRelease(instance)) return chosen;
  if (activeMachinesOf(chosen.placement, machines).length === 0) {
    return refuse(
      'INSTANCE_MOVE_UNSUPPORTED',
      `instance "${instance.name}" runs ${instance.currentVersion ?? 'a release'}; ${placementText(chosen.placement)} matches no active machine, so nothing would serve it — choose machines that are active (\`cutover machine list\`)`,
      { instance: instance.name, placement: chosen.placement },
    );
  }
  return chosen;
}
