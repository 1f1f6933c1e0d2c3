import type { InstanceRecord } from '../store/index.ts';
import type { RuntimeInstance } from './runtime.ts';

/**
 * How an instance's record compares with what the agent routes:
 * - `ok`: the agent routes the recorded active colour with the recorded version (or nothing was deployed);
 * - `changing`: a deployment holds the instance's lease, so a difference is expected for now;
 * - `unreachable`: the agent did not answer;
 * - `unknown`: the record says it serves, the agent does not know the instance (its state was lost or reset);
 * - `needs-deploy`: the record keeps a version that serves nowhere (the server found the instance lost, routed its hosts again and redeploys it);
 *   also `changing`: the agent routes no colour of the instance yet holds the recorded release
 *   starting or healthy in the recorded colour: the server is converging the machine (issue 18),
 *   which flips to it once healthy;
 * - `mismatch`: the agent routes another colour or version than recorded.
 */
export interface AgentCheck {
  ok: boolean;
  state: 'ok' | 'changing' | 'unreachable' | 'unknown' | 'needs-deploy' | 'mismatch';
  /** One sentence per difference, naming what to do. */
  problems: string[];
}

/**
 * Compares the store's record of an instance with the agent's answer (`seen`: undefined when the
 * agent answered that it does not know it; `error`: the agent could not be asked). Pure.
 */
export function compareWithAgent(
  record: Pick<InstanceRecord, 'name' | 'activeColor' | 'currentVersion' | 'slots'>,
  seen: RuntimeInstance | undefined,
  options: { error?: string; locked?: boolean } = {},
): AgentCheck {
  if (options.error !== undefined) return { ok: false, state: 'unreachable', problems: [`cannot ask the agent: ${options.error}`] };
  const problems = differences(record, seen);
  if (problems.length === 0) return { ok: true, state: 'ok', problems: [] };
  if (options.locked || converging(record, seen)) return { ok: true, state: 'changing', problems };
  if (record.activeColor === null) return { ok: false, state: 'needs-deploy', problems };
  return { ok: false, state: seen ? 'mismatch' : 'unknown', problems };
}

/** The agent routes nothing for the instance while the recorded release starts or waits, healthy, for its flip in the recorded colour. */
function converging(record: Pick<InstanceRecord, 'activeColor' | 'currentVersion' | 'slots'>, seen: RuntimeInstance | undefined): boolean {
  const color = record.activeColor;
  if (!seen || color === null || seen.active !== null) return false;
  const recorded = record.slots[color]?.version ?? record.currentVersion;
  const slot = seen.slots.find((s) => s.color === color);
  return slot !== undefined && slot.version === recorded && (slot.state === 'starting' || slot.state === 'healthy');
}

function differences(record: Pick<InstanceRecord, 'name' | 'activeColor' | 'currentVersion' | 'slots'>, seen: RuntimeInstance | undefined): string[] {
  const { activeColor: color, currentVersion: version } = record;
  if (color === null) {
    // Nothing active: fine, unless a version is still recorded (the instance was lost).
    return version === null
      ? []
      : [`${version} is recorded but serves nowhere (the agent had lost the instance): the server redeploys it once; if that deployment failed, deploy ${version} to serve it again`];
  }
  const recorded = record.slots[color]?.version ?? version;
  if (!seen) {
    return [`the agent does not know this instance, recorded as serving ${recorded ?? '?'} on ${color}: its hosts answer 404 until the server routes them again`];
  }
  const problems: string[] = [];
  if (seen.active !== color) problems.push(`recorded active colour ${color}, the agent routes ${seen.active ?? 'no colour'}`);
  const slot = seen.slots.find((s) => s.color === color);
  if (!slot) problems.push(`the agent has no ${color} slot (recorded: ${recorded ?? '?'})`);
  else if (recorded !== null && slot.version !== recorded) problems.push(`the ${color} slot runs ${slot.version} on the agent, ${recorded} in the record`);
  return problems;
}
