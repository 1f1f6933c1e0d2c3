import { dirname } from 'node:path';
import { judgeDesired } from '../protocol/index.ts';
import type { DesiredAnswer, DesiredState } from '../protocol/index.ts';
import type { AgentState } from './agent-state.ts';
import { readMachineLink } from './machine-link.ts';

/** The name the agent joined as (`agent/private/machine.json`), or undefined when it has not joined or the file is unreadable. */
export async function joinedName(agentDataDir: string): Promise<string | undefined> {
  try {
    return (await readMachineLink(dirname(agentDataDir)))?.name;
  } catch {
    return undefined;
  }
}

/**
 * The agent's side of `machine.desired`: it keeps the highest-numbered document it accepted in its
 * state file, and refuses a lower number or another machine's document with the reason
 * (`judgeDesired`). Keeping it is all it does with it for now: acting on it comes with the
 * connection the agent opens (ADR 0019), which reconciles from it.
 */
export function createAgentDesired(deps: {
  state: () => AgentState;
  save: () => Promise<void>;
  machineName: () => Promise<string | undefined>;
  log: { warn(obj: object, msg: string): void };
}) {
  return {
    async apply(number: number, document: DesiredState): Promise<DesiredAnswer> {
      const state = deps.state();
      const answer = judgeDesired(state.desired?.number, await deps.machineName(), number, document);
      if (!answer.accepted) {
        deps.log.warn({ number, machine: document.machine, reason: answer.reason }, 'refused a desired-state document');
        return answer;
      }
      const previous = state.desired;
      state.desired = { number, document: document as unknown as Record<string, unknown> };
      try {
        await deps.save();
      } catch (error) {
        // Not on disk (a full disk): the agent holds what its files hold, and the server asks again.
        if (previous) state.desired = previous;
        else delete state.desired;
        throw error;
      }
      return answer;
    },
  };
}
