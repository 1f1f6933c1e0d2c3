import { CutoverError } from '../shared/index.ts';

/** The live agent of the data directory as `cutover up` found it: its pid file record, and the machine it joined as (none for an agent that never joined). */
export interface FoundAgent {
  pid: number;
  routerPort?: number;
  machine?: string;
}

/**
 * What `cutover up` does about the agent: start one; reuse the joined one that survived the
 * previous `up` (it reconnects to the server by itself); or take over from one that never joined
 * (an install of an earlier version, upgraded in place): a new agent joins and adopts its slots
 * without dropping a request.
 */
export type UpPlan = { kind: 'start' } | { kind: 'reuse'; pid: number; machine: string } | { kind: 'takeover'; pid: number };

/**
 * Decides what `cutover up` does about the agent of its data directory. A live agent is only used
 * when it serves the router port asked for (0 means "any"): starting a second agent on the same
 * data directory would make two supervisors fight over the same slots, so other ports are refused,
 * naming the flag that would reuse it.
 */
export function planUp(found: FoundAgent | undefined, wanted: { httpPort: number }, dataDir: string): UpPlan {
  if (found === undefined) return { kind: 'start' };
  const { pid, routerPort } = found;
  if (routerPort === undefined) {
    throw new CutoverError('AGENT_RUNNING', `an agent (pid ${pid}) already serves ${dataDir} on an unrecorded port; stop it first (kill -TERM ${pid} stops it and its slots)`, {
      details: { pid },
    });
  }
  if (wanted.httpPort !== 0 && wanted.httpPort !== routerPort) {
    throw new CutoverError(
      'AGENT_RUNNING',
      `an agent (pid ${pid}) from an earlier \`cutover up\` still serves ${dataDir} on router port ${routerPort}; ` +
        `run \`cutover up --http-port ${routerPort}\` to keep using it, or stop it first (kill -TERM ${pid} stops it and its slots)`,
      { details: { pid, routerPort, flags: ['--http-port'] } },
    );
  }
  return found.machine ? { kind: 'reuse', pid, machine: found.machine } : { kind: 'takeover', pid };
}
