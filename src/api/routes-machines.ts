import type { Context } from 'hono';
import {
  authenticateMachine,
  createJoinToken,
  createJoinTokenSchema,
  getMachine,
  joinMachine,
  joinMachineSchema,
  listJoinTokens,
  listMachines,
  machineHeartbeat,
  machineHeartbeatSchema,
  revokeJoinToken,
  rotateMachineCredential,
  setMachineStatus,
} from '../control/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { pathParams, route } from './route.ts';
import type { ApiEnv, RouteSpec } from './route.ts';
import { createdJoinTokenSchema, joinTokenSchema, listOf, machineSchema, machineViewSchema, machineWithCredentialSchema } from './schemas.ts';


/** The address of the peer (the agent), when the request came over a socket. */
function peerAddress(c: Context<ApiEnv>): string | null {
  return (c.env as Partial<ApiEnv['Bindings']> | undefined)?.incoming?.socket?.remoteAddress ?? null;
}

const bearer = (c: Context<ApiEnv>) => {
  const header = c.req.header('authorization') ?? '';
  return header.startsWith('Bearer ') ? header.slice(7).trim() : '';
};

/** Join tokens (admin), the agents' join and heartbeat (machine), and the machine registry (issue 17). */
export function machineRoutes(deps: ApiDeps): RouteSpec[] {
  const { store, clock } = deps;
  const connectedView = <M extends { name: string }>(machine: M) => ({ ...machine, connected: deps.connectedMachines?.().includes(machine.name) ?? false });
  const name = pathParams('name');
  return [
    route({
      method: 'get',
      path: '/api/join-tokens',
      role: 'admin',
      operationId: 'listJoinTokens',
      summary: 'Join tokens, oldest first (never the tokens themselves)',
      tag: 'machines',
      status: 200,
      response: listOf(joinTokenSchema),
      handle: async () => ({ items: await listJoinTokens(deps), next: null }),
    }),
    route({
      method: 'post',
      path: '/api/join-tokens',
      role: 'admin',
      operationId: 'createJoinToken',
      summary: 'Create a join token; the answer is the only time it is shown',
      description:
        "The token embeds the SHA-256 of the server's TLS certificate and the URLs agents dial (default: the URL this request came to), so an agent's first contact is pinned.",
      tag: 'machines',
      body: createJoinTokenSchema,
      status: 201,
      response: createdJoinTokenSchema,
      handle: async ({ body, who, c }) =>
        createJoinToken({ store, clock, serverUrls: [new URL(c.req.url).origin], ...(deps.tlsFingerprint ? { tlsFingerprint: deps.tlsFingerprint } : {}), ...(deps.tlsCaFingerprint ? { tlsCaFingerprint: deps.tlsCaFingerprint } : {}) }, body, who),
    }),
    route({
      method: 'delete',
      path: '/api/join-tokens/{id}',
      role: 'admin',
      operationId: 'revokeJoinToken',
      summary: 'Revoke a join token at once',
      tag: 'machines',
      params: pathParams('id'),
      status: 200,
      response: joinTokenSchema,
      handle: async ({ params, who }) => revokeJoinToken(deps, params.id, who),
    }),
    route({
      method: 'post',
      path: '/v1/machines/join',
      role: 'machine',
      operationId: 'joinMachine',
      summary: "An agent joins with a join token and gets its machine's credential (shown only in this answer)",
      tag: 'machines',
      body: joinMachineSchema,
      status: 201,
      response: machineWithCredentialSchema,
      handle: async ({ body, c }) => joinMachine(deps, body, peerAddress(c)),
    }),
    route({
      method: 'post',
      path: '/v1/machines/heartbeat',
      role: 'machine',
      operationId: 'machineHeartbeat',
      summary: "An agent's heartbeat, with its machine credential as bearer token",
      tag: 'machines',
      authenticate: async (c) => (await authenticateMachine(store, bearer(c))).name,
      body: machineHeartbeatSchema,
      status: 200,
      response: machineSchema,
      handle: async ({ body, who, c }) => machineHeartbeat(deps, who.actor.slice('machine:'.length), body, peerAddress(c)),
    }),
    route({
      method: 'get',
      path: '/api/machines',
      role: 'viewer',
      operationId: 'listMachines',
      summary: 'Machines by name, removed ones too, with their instances and drift',
      tag: 'machines',
      status: 200,
      response: listOf(machineViewSchema),
      handle: async () => ({ items: (await listMachines(store)).map(connectedView), next: null }),
    }),
    route({
      method: 'get',
      path: '/api/machines/{name}',
      role: 'viewer',
      operationId: 'getMachine',
      summary: 'One machine, with its instances and drift',
      tag: 'machines',
      params: name,
      status: 200,
      response: machineViewSchema,
      handle: async ({ params }) => connectedView(await getMachine(store, params.name)),
    }),
    route({
      method: 'post',
      path: '/api/machines/{name}/drain',
      role: 'admin',
      operationId: 'drainMachine',
      summary: 'Drain a machine: it keeps what it runs and gets nothing new',
      tag: 'machines',
      params: name,
      status: 200,
      response: machineSchema,
      handle: async ({ params, who }) => setMachineStatus(deps, params.name, 'draining', who),
    }),
    route({
      method: 'delete',
      path: '/api/machines/{name}',
      role: 'admin',
      operationId: 'removeMachine',
      summary: 'Remove a machine: its credential stops working and its name is free (refused while instances are placed on it)',
      tag: 'machines',
      params: name,
      status: 200,
      response: machineSchema,
      handle: async ({ params, who }) => {
        const removed = await setMachineStatus(deps, params.name, 'removed', who);
        // Its credential no longer opens a session: the one it has now ends too.
        deps.disconnectMachine?.(params.name, 'the machine was removed');
        return removed;
      },
    }),
    route({
      method: 'post',
      path: '/api/machines/{name}/rotate-credential',
      role: 'admin',
      operationId: 'rotateMachineCredential',
      summary: "Give a machine a new credential (shown only in this answer); the old one stops working at once",
      tag: 'machines',
      params: name,
      status: 200,
      response: machineWithCredentialSchema,
      handle: async ({ params, who }) => {
        const rotated = await rotateMachineCredential(deps, params.name, who);
        // The session opened with the old credential ends: the agent must present the new one.
        deps.disconnectMachine?.(params.name, 'its credential was rotated');
        return rotated;
      },
    }),
  ];
}
