export { createAgentLink, DEFAULT_HEARTBEAT_MS } from './agent-link.ts';
export type { AgentLink, AgentLinkDeps } from './agent-link.ts';
export { AgentSession } from './session.ts';
export type { SessionInfo } from './session.ts';
export { notConnected, openSessionLogs, sessionRuntime } from './session-runtime.ts';
export { createFleetRuntime } from './fleet-runtime.ts';
export { createReplicaRelay } from './replica-relay.ts';
export { runtimeOver } from './runtime-over.ts';
export type { ReplicaRelay } from './replica-relay.ts';
