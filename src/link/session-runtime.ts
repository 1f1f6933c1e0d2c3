import type { Readable } from 'node:stream';
import { CutoverError } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { runtimeOver } from './runtime-over.ts';
import type { Runtime } from '../deploy/index.ts';
import type { AgentSession } from './session.ts';

/** Why a call cannot go to a machine now. */
export function notConnected(machine: string): CutoverError {
  return new CutoverError(
    'AGENT_UNREACHABLE',
    `the agent of machine ${machine} is not connected to this server; it keeps serving and reconnects by itself (\`cutover machine show ${machine}\` shows its last heartbeat)`,
    {
      details: { machine },
    },
  );
}

/**
 * The `Runtime` port over a machine's session, whichever session it has when a call is made (a
 * reconnect replaces it). An artifact is not pushed: the agent downloads it by digest.
 */
export function sessionRuntime(
  machine: string,
  sessionOf: (machine: string) => AgentSession | undefined,
): Runtime & { close(): Promise<void> } {
  return runtimeOver(
    (name, request) => {
      const session = sessionOf(machine);
      if (!session || session.closed) return Promise.reject(notConnected(machine));
      return session.call(name, request);
    },
    async () => {},
  );
}

/** A machine's log stream for an instance (the API relays it to `cutover logs`). */
export async function openSessionLogs(
  session: AgentSession | undefined,
  machine: string,
  instance: string,
  query: { color?: Color; tail?: number; follow?: boolean },
  signal: AbortSignal,
): Promise<{ color: string; body: Readable }> {
  if (!session || session.closed) throw notConnected(machine);
  const { answer, body } = await session.callStreamed('instance.logs', { instance, ...query }, signal);
  return { color: answer.color, body };
}
