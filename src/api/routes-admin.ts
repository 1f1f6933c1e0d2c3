import { z } from 'zod';
import { auditQuery, createToken, createTokenSchema, listTokens, queryAudit, revokeToken, verifyAudit } from '../control/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { cursorOf, numericCursor } from './paging.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';
import { auditEntrySchema, chainCheckSchema, listOf, tokenSchema } from './schemas.ts';

export function adminRoutes(deps: ApiDeps): RouteSpec[] {
  const { store } = deps;
  return [
    route({
      method: 'get',
      path: '/api/audit',
      role: 'viewer',
      operationId: 'listAudit',
      summary: 'Audit entries, newest first, a page at a time',
      description: 'Pass `next` back as `cursor` for the following page; `next` is null on the last one.',
      tag: 'audit',
      query: auditQuery,
      status: 200,
      response: listOf(auditEntrySchema),
      handle: async ({ query }) => {
        const before = numericCursor(cursorOf(query, 'before', query.before));
        const items = await queryAudit(store, { ...query, before });
        return { items, next: items.length === query.limit ? String(items.at(-1)!.id) : null };
      },
    }),
    route({
      method: 'get',
      path: '/api/audit/verify',
      role: 'viewer',
      operationId: 'verifyAudit',
      summary: 'Check the audit hash chain',
      description: 'Walks every entry: an edited entry, a deleted one, or entries deleted from the end are reported with the id where the chain breaks.',
      tag: 'audit',
      status: 200,
      response: chainCheckSchema,
      handle: async () => verifyAudit(store),
    }),
    route({
      method: 'get',
      path: '/api/tokens',
      role: 'admin',
      operationId: 'listTokens',
      summary: 'List API tokens (never the tokens themselves)',
      tag: 'tokens',
      status: 200,
      response: listOf(tokenSchema),
      handle: async () => ({ items: await listTokens(store), next: null }),
    }),
    route({
      method: 'post',
      path: '/api/tokens',
      role: 'admin',
      operationId: 'createToken',
      summary: 'Create a named API token; the answer is the only time it is shown',
      tag: 'tokens',
      body: createTokenSchema,
      status: 201,
      response: tokenSchema.extend({ token: z.string() }),
      handle: async ({ body, who }) => createToken(deps, body, who),
    }),
    route({
      method: 'delete',
      path: '/api/tokens/{name}',
      role: 'admin',
      operationId: 'revokeToken',
      summary: 'Revoke an API token',
      tag: 'tokens',
      params: pathParams('name'),
      status: 200,
      response: tokenSchema,
      handle: async ({ params, who }) => revokeToken(deps, params.name, who),
    }),
  ];
}
