// How each message of the agent protocol travels over HTTP/1.1 today (the server calls the
// agent's control API). These are the routes agents have always served, so an agent and a server
// of different versions still understand each other.
import type { MessageName, RequestOf } from './messages.ts';

export interface HttpRoute {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** `:field` segments carry request fields (percent-encoded). */
  path: string;
  /** Request fields sent in the query string: a number, or a flag sent as `1`. */
  query?: Record<string, 'string' | 'number' | 'flag'>;
  /** A boolean answer sent as the status alone: 200 (true) or 404 (false), no body. */
  answerAsStatus?: true;
  /** Answer fields sent as response headers beside a streamed answer body. */
  answerHeaders?: Record<string, string>;
}

const I = '/v1/instances/:instance';
const S = `${I}/slots/:color`;

export const HTTP_ROUTES = {
  'agent.health': { method: 'GET', path: '/v1/health' },
  'agent.state': { method: 'GET', path: '/v1/state' },
  'agent.local.ack': { method: 'POST', path: '/v1/local-rollbacks/ack' },
  'artifact.has': { method: 'HEAD', path: '/v1/artifacts/:digest', answerAsStatus: true },
  'artifact.put': { method: 'PUT', path: '/v1/artifacts/:digest' },
  'artifact.list': { method: 'GET', path: '/v1/artifacts' },
  'artifact.delete': { method: 'DELETE', path: '/v1/artifacts/:digest' },
  'instance.put': { method: 'PUT', path: I },
  'instance.remove': { method: 'DELETE', path: I },
  'instance.describe': { method: 'GET', path: I },
  'instance.stats': { method: 'GET', path: `${I}/stats` },
  'instance.flip': { method: 'POST', path: `${I}/flip` },
  'instance.shift': { method: 'POST', path: `${I}/shift` },
  'instance.preview': { method: 'PUT', path: `${I}/preview` },
  'instance.maintenance.on': { method: 'PUT', path: `${I}/maintenance` },
  'instance.maintenance.off': { method: 'DELETE', path: `${I}/maintenance` },
  'instance.logs': {
    method: 'GET',
    path: `${I}/logs`,
    query: { color: 'string', tail: 'number', follow: 'flag' },
    answerHeaders: { color: 'x-cutover-color' },
  },
  'slot.start': { method: 'POST', path: `${S}/start` },
  'slot.wait': { method: 'POST', path: `${S}/wait` },
  'slot.stop': { method: 'POST', path: `${S}/stop` },
  'instance.test': { method: 'POST', path: `${I}/tests` },
  'instance.test.cancel': { method: 'DELETE', path: `${I}/tests` },
  'machine.desired': { method: 'PUT', path: '/v1/desired' },
} as const satisfies Record<MessageName, HttpRoute>;

/** The request fields a route's path names. */
export const pathFields = (route: HttpRoute): string[] => [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);

/** Whether the remaining request fields travel as a JSON body (not for GET, HEAD and DELETE). */
export const hasJsonBody = (route: HttpRoute): boolean => route.method === 'POST' || route.method === 'PUT';

/** Puts a request on the wire: the path (with its query) and the JSON body, if the route has one. */
export function encodeHttpRequest<N extends MessageName>(name: N, request: RequestOf<N>): { route: HttpRoute; path: string; json?: Record<string, unknown> } {
  const route: HttpRoute = HTTP_ROUTES[name];
  const rest: Record<string, unknown> = { ...(request as Record<string, unknown>) };
  const path = route.path.replace(/:([a-zA-Z]+)/g, (_, field: string) => {
    const value = rest[field];
    delete rest[field];
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [field, kind] of Object.entries(route.query ?? {})) {
    const value = rest[field];
    delete rest[field];
    if (value === undefined || value === false) continue;
    search.set(field, kind === 'flag' ? '1' : String(value));
  }
  const query = search.size > 0 ? `?${search}` : '';
  return { route, path: path + query, ...(hasJsonBody(route) ? { json: rest } : {}) };
}

/** Reads the query fields of a route back into request fields (before the message schema checks them). */
export function decodeHttpQuery(route: HttpRoute, query: (field: string) => string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(route.query ?? {})) {
    const value = query(field);
    if (value === undefined) continue;
    out[field] = kind === 'flag' ? value === '1' : kind === 'number' ? Number(value) : value;
  }
  return out;
}
