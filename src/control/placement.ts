// Where an instance runs: one machine per instance, for now (issue 17). Pure: the service
// (`instances.ts`) loads the machines and the instance, asks here, and throws what comes back.
import type { ErrorCode } from '../shared/index.ts';
import type { InstanceRecord, MachineRecord } from '../store/index.ts';

/** A placement, or why not (a code and a message that says what to do). */
export type PlaceOutcome =
  | { ok: true; machine: string | null }
  | { ok: false; code: ErrorCode; message: string; details: Record<string, unknown> };

const refuse = (code: ErrorCode, message: string, details: Record<string, unknown>): PlaceOutcome => ({ ok: false, code, message, details });
const names = (machines: MachineRecord[]) => machines.map((m) => m.name).join(', ');

/**
 * The machine a new instance goes to.
 * - `requested` (`--machine NAME`): it must exist (`MACHINE_NOT_FOUND`) and be active (a draining
 *   or removed machine takes nothing new: `MACHINE_NOT_ACTIVE`, naming its status).
 * - Without it: no live machine at all → null (the one local agent of a server without machines,
 *   as before issue 17); exactly one active machine → that one; several → `MACHINE_REQUIRED`,
 *   naming them and the flag; only draining ones → `MACHINE_NOT_ACTIVE`.
 */
export function placeInstance(requested: string | undefined, machines: MachineRecord[]): PlaceOutcome {
  if (requested !== undefined) {
    const machine = machines.find((m) => m.name === requested);
    if (!machine) {
      const live = machines.filter((m) => m.status !== 'removed');
      return refuse('MACHINE_NOT_FOUND', `no machine named "${requested}"; machines: ${names(live) || 'none yet (agents join with a join token)'}`, { machine: requested });
    }
    if (machine.status !== 'active') {
      return refuse('MACHINE_NOT_ACTIVE', `machine "${requested}" is ${machine.status} and takes no new instances; choose an active machine (\`cutover machine list\`)`, {
        machine: requested,
        status: machine.status,
      });
    }
    return { ok: true, machine: requested };
  }
  const live = machines.filter((m) => m.status !== 'removed');
  if (live.length === 0) return { ok: true, machine: null };
  const active = live.filter((m) => m.status === 'active');
  if (active.length === 1) return { ok: true, machine: active[0]!.name };
  if (active.length === 0) {
    return refuse('MACHINE_NOT_ACTIVE', `every machine is draining (${names(live)}), so none takes a new instance; join another machine or give --machine once one is active`, {
      machines: live.map((m) => m.name),
    });
  }
  return refuse('MACHINE_REQUIRED', `there are ${active.length} active machines (${names(active)}); say which one runs the instance with --machine NAME`, {
    machines: active.map((m) => m.name),
  });
}

/** Whether an instance has a release deployed (a current version or any slot), so moving it would strand it. */
export const hasDeployedRelease = (i: InstanceRecord): boolean => i.currentVersion !== null || i.slots.blue !== null || i.slots.green !== null;

/**
 * Moving an existing instance to `requested`: the same rules as a new one for the target machine,
 * and refused (`INSTANCE_MOVE_UNSUPPORTED`) while the instance has a deployed release: moving
 * running instances comes with "Instances across machines". The same machine is no move.
 */
export function moveInstance(instance: InstanceRecord, requested: string, machines: MachineRecord[]): PlaceOutcome {
  if (instance.machine === requested) return { ok: true, machine: requested };
  const placed = placeInstance(requested, machines);
  if (!placed.ok) return placed;
  if (hasDeployedRelease(instance)) {
    const from = instance.machine ?? 'the local agent';
    return refuse(
      'INSTANCE_MOVE_UNSUPPORTED',
      `instance "${instance.name}" runs ${instance.currentVersion ?? 'a release'} on ${from}; moving a running instance to another machine comes with "Instances across machines" — for now, create a new instance on ${requested} and delete this one`,
      { instance: instance.name, from: instance.machine, to: requested },
    );
  }
  return placed;
}
