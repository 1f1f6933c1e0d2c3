/**
 * The agent protocol's version, announced by the agent (`agent.health`, `agent.state`). It goes
 * up when a message changes in a way an older peer would misread; a new optional field does not
 * change it. A server accepts agents of its own version and of the one before (ADR 0019).
 */
export const PROTOCOL_VERSION = 1;

/** Whether a server speaking `server` accepts an agent announcing `agent`, and why not. */
export function protocolAccepted(server: number, agent: number): { ok: true; outdated: boolean } | { ok: false; reason: string } {
  if (agent === server) return { ok: true, outdated: false };
  if (agent === server - 1) return { ok: true, outdated: true };
  const which = agent < server ? 'older' : 'newer';
  return {
    ok: false,
    reason: `the agent speaks protocol ${agent}, this server ${server} (it accepts ${server - 1} and ${server}): the agent is ${which}; upgrade the ${agent < server ? 'agent' : 'server'}`,
  };
}
