export { HANDOVER_SIGNAL, startAgent } from './agent.ts';
export type { RunningAgent, TakeoverOptions, TakeoverResult } from './agent.ts';
export { createAgentClient, openAgentLogs } from './agent-client.ts';
export { createAgentCore } from './agent-core.ts';
export type { AgentCore } from './agent-core.ts';
export { createStateFile } from './agent-state.ts';
export type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
