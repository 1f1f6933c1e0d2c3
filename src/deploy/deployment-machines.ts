// Which machines a deployment takes part on, and what its end says about them (issue 18). Pure.
import { CutoverError } from '../shared/index.ts';
import type { DeploymentMachines, DeploymentRecord } from '../store/index.ts';
import type { FlipOutcome, InstanceMachines } from './runtime.ts';

/**
 * The machines of a new deployment, from where its instance runs now:
 * - none placed: `AGENT_UNREACHABLE` (nothing would run it);
 * - none connected: `AGENT_UNREACHABLE` naming them;
 * - a forward deployment with some unreachable: refused at once, naming them (`--skip-unreachable`
 *   leaves them out, and they converge when back);
 * - a rollback never waits: the unreachable are left out and converge when back.
 */
export function machinesTakingPart(d: Pick<DeploymentRecord, 'instance' | 'kind'>, where: InstanceMachines, skipUnreachable: boolean): DeploymentMachines {
  const unreachable = [...where.unreachable].sort();
  if (where.machines.length === 0) {
    throw new CutoverError('AGENT_UNREACHABLE', `instance "${d.instance}" is placed on no machine: its placement matches none (\`cutover machine list\`, \`cutover instance update ${d.instance} --machine NAME\`)`, {
      details: { instance: d.instance, machines: [] },
    });
  }
  if (where.connected.length === 0) {
    throw new CutoverError('AGENT_UNREACHABLE', `no machine of instance "${d.instance}" is connected (${unreachable.join(', ')}); nothing changed`, { details: { instance: d.instance, machines: unreachable } });
  }
  if (unreachable.length > 0 && d.kind === 'deploy' && !skipUnreachable) {
    throw new CutoverError(
      'AGENT_UNREACHABLE',
      `machine${unreachable.length === 1 ? '' : 's'} ${unreachable.join(', ')} of instance "${d.instance}" ${unreachable.length === 1 ? 'is' : 'are'} not connected, so the release would not reach ${unreachable.length === 1 ? 'it' : 'them'}; nothing changed. Bring ${unreachable.length === 1 ? 'it' : 'them'} back, or (an admin) deploy to the others with --skip-unreachable: ${unreachable.length === 1 ? 'it converges' : 'they converge'} when back`,
      { details: { instance: d.instance, machines: unreachable } },
    );
  }
  return { placed: [...where.machines].sort(), skipped: unreachable, unconfirmed: [], pending: [] };
}

/** Records how the flip went on the machines: the unconfirmed and the pending (beyond those skipped at the start). */
export function recordFlip(machines: DeploymentMachines, outcome: FlipOutcome): void {
  machines.unconfirmed = [...(outcome.unconfirmed ?? [])].sort();
  machines.pending = (outcome.pending ?? []).filter((m) => !machines.skipped.includes(m)).sort();
}

/** Whether a finished deployment left machines behind (skipped, unconfirmed or pending): it ends `partial`. */
export const leftMachinesBehind = (d: Pick<DeploymentRecord, 'machines'>): boolean =>
  d.machines !== undefined && d.machines.skipped.length + d.machines.unconfirmed.length + d.machines.pending.length + (d.machines.failed?.length ?? 0) > 0;

/** The machines a partial deployment did not reach, for its messages: `web-3 (unconfirmed), web-4 (skipped)`. */
export function behindText(machines: DeploymentMachines): string {
  const parts = [
    ...machines.unconfirmed.map((m) => `${m} (unconfirmed)`),
    ...machines.pending.map((m) => `${m} (pending)`),
    ...machines.skipped.map((m) => `${m} (unreachable, skipped)`),
    ...(machines.failed ?? []).map((m) => `${m} (failed, within the failure budget)`),
  ];
  return parts.join(', ');
}
