import { CutoverError } from '../shared/index.ts';

/** The live agent of the data directory as `cutover up` found it: its pid file record, and whether it answered with the data directory's token. */
export interface FoundAgent {
  pid: number;
  routerPort?: number;
  controlPort?: number;
  answers: boolean;
}

/** What `cutover up` does about the agent: start one, or reuse the one that survived the previous `up`. */
export type UpPlan = { kind: 'start' } | { kind: 'reuse'; pid: number };

/**
 * Decides whether `cutover up` starts an agent or reuses the live one (after the previous `up`
 * died, its agent keeps serving in its own process group). A live agent is reused only when it
 * serves the ports asked for (port 0 means "any") and answers with this data directory's token;
 * otherwise `up` refuses, naming the flags that would reuse it: starting a second agent on the
 * same data directory would make two supervisors fight over the same slots.
 */
export function planUp(
  found: FoundAgent | undefined,
  wanted: { httpPort: number; agentPort: number },
  dataDir: string,
): UpPlan {
  if (found === undefined) return { kind: 'start' };
  const { pid, routerPort, controlPort } = found;
  const stop = `or stop it first (kill -TERM ${pid} stops it and its slots)`;
  if (routerPort === undefined || controlPort === undefined) {
    throw new CutoverError(
      'AGENT_RUNNING',
      `an agent (pid ${pid}) already serves ${dataDir} on unrecorded ports; stop it first (kill -TERM ${pid} stops it and its slots)`,
      {
        details: { pid },
      },
    );
  }
  const same = (want: number, has: number) => want === 0 || want === has;
  if (!same(wanted.httpPort, routerPort) || !same(wanted.agentPort, controlPort)) {
    throw new CutoverError(
      'AGENT_RUNNING',
      `an agent (pid ${pid}) from an earlier \`cutover up\` still serves ${dataDir} on other ports (router ${routerPort}, control ${controlPort}); ` +
        `run \`cutover up --http-port ${routerPort} --agent-port ${controlPort}\` to keep using it, ${stop}`,
      { details: { pid, routerPort, controlPort, flags: ['--http-port', '--agent-port'] } },
    );
  }
  if (!found.answers) {
    throw new CutoverError(
      'AGENT_RUNNING',
      `an agent (pid ${pid}) holds ${dataDir} but its control API on port ${controlPort} does not answer with this data directory's agent token; stop it first (kill -TERM ${pid})`,
      { details: { pid, controlPort } },
    );
  }
  return { kind: 'reuse', pid };
}
