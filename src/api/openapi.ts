import { z } from 'zod';
import type { RouteSpec } from './route.ts';

/** The error body every failing request gets. */
export const errorBodySchema = z
  .object({
    code: z.string().describe('Stable machine code, e.g. RELEASE_NOT_FOUND or POLICY_SOAK_NOT_MET.'),
    message: z.string().describe('What went wrong and how to fix it.'),
    details: z.record(z.string(), z.unknown()).describe('Structured facts about the error (never secrets).'),
  })
  .describe('The one error body of the API.');

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete s.$schema;
  return s;
}

/** Path and query parameters from an object schema: one OpenAPI parameter per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input');
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => {
    const { description, ...rest } = p;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

/**
 * The OpenAPI 3.1 document of the API, generated from the route table: the same zod schemas that
 * validate requests, the same roles the server enforces (`x-cutover-role`).
 */
export function openApiDocument(routes: RouteSpec[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const op: JsonSchema = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      'x-cutover-role': r.role,
      ...(r.publisher ? { 'x-cutover-publisher': r.publisher } : {}),
      ...(r.role === 'public' ? { security: [] } : {}),
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } };
    else if (r.rawBody) op.requestBody = { required: true, content: { [r.rawBody]: { schema: { type: 'string', contentMediaType: r.rawBody } } } };
    const ok: JsonSchema = { description: STATUS_TEXT[r.status] ?? 'Success' };
    if (r.response) ok.content = { 'application/json': { schema: jsonSchema(r.response, 'output') } };
    else if (r.rawResponse) ok.content = { [r.rawResponse]: { schema: { type: 'string' } } };
    op.responses = {
      [String(r.status)]: ok,
      default: { description: 'An error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    };
    (paths[r.path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cutover API',
      version,
      description:
        'The control plane of Cutover. Send `Authorization: Bearer <token>`. Roles: viewer (read), deployer (publish, deploy, rollback, retarget, promote within policy, problems), admin (everything: channels, overrides, tokens). Every error has the body `{code, message, details}`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Cutover API token (`cut_…`).' } },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
    },
  };
}
