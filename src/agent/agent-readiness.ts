// What the router's ready endpoint (`/.well-known/cutover/ready`, issue 18) compares against: the
// agent's accepted desired-state document, and which instances were flipped since it came.
import type { DesiredState } from '../protocol/index.ts';
import type { InstanceExpectation, MachineExpectation } from '../router/index.ts';
import type { AgentState } from './agent-state.ts';

/**
 * The machine's expectation from its state: null without a document (the ready endpoint then only
 * asks for an active colour); else the document's `draining` (absent: false) and, per instance it
 * lists, the live version and whether the instance was flipped while this document was the one
 * held (`PersistedInstance.flippedUnder`): such a flip is newer than the document, so what it
 * serves stands until the server sends the next one.
 */
export function expectationOf(state: AgentState): MachineExpectation | null {
  const desired = state.desired;
  if (desired === undefined) return null;
  // Kept as it came, through the protocol's schema (`machine.desired`).
  const document = desired.document as unknown as DesiredState;
  const instances = new Map<string, InstanceExpectation>();
  for (const entry of Array.isArray(document.instances) ? document.instances : []) {
    const flippedSince = state.instances[entry.name]?.flippedUnder === desired.number;
    instances.set(entry.name, { live: entry.live?.version ?? null, flippedSince });
  }
  return { draining: document.draining === true, instances };
}
