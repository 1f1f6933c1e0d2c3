import { z } from 'zod';
import { CutoverError, isColor } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { mustGetInstance } from '../store/index.ts';
import type { InstanceRecord } from '../store/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { labelledLines } from './log-lines.ts';
import type { LogLabels } from './log-lines.ts';
import { pathParams, route } from './route.ts';
import type { RouteSpec } from './route.ts';

/** A stream of chunks as a web `ReadableStream`; cancelling it (the client went away) aborts the source. */
function toWebStream(body: AsyncIterable<Uint8Array>, abort: AbortController): ReadableStream<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch {
        controller.close();
      }
    },
    cancel() {
      abort.abort();
    },
  });
}

/**
 * The labels of an instance's log lines (pure): the colour the agent streams, and the version the
 * server's record says that colour runs.
 */
export function logLabels(instance: Pick<InstanceRecord, 'name' | 'app' | 'slots'>, color: string, machine: string | null): LogLabels {
  const slot = isColor(color) ? instance.slots[color as Color] : null;
  return { machine, instance: instance.name, app: instance.app, version: slot?.version ?? null, color };
}

/** `GET /api/instances/{name}/logs`: the slot output the agent streams, relayed as text or as labelled NDJSON. */
export function logRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/api/instances/{name}/logs',
      role: 'viewer',
      operationId: 'logs',
      summary: "Stream an instance's slot output, as text or as NDJSON lines labelled with machine, instance, app, version and colour",
      tag: 'instances',
      params: pathParams('name'),
      query: z
        .object({
          color: z.string().optional().describe('blue or green; default the active colour.'),
          tail: z.coerce.number().int().min(0).max(100_000).default(100),
          follow: z.enum(['0', '1']).optional(),
          machine: z.string().optional().describe('The machine to read (an instance on several machines); default the first connected one.'),
          format: z
            .enum(['text', 'ndjson'])
            .default('text')
            .describe('`text`: the bytes as the app wrote them. `ndjson`: one JSON object per line, `{machine, instance, app, version, color, line}` (`machine` null until instances are placed on machines).'),
        })
        .strict(),
      status: 200,
      rawResponse: 'text/plain',
      handle: async ({ params, query, c }) => {
        const instance = await mustGetInstance(deps.store, params.name);
        const { color } = query;
        if (color !== undefined && !isColor(color)) throw new CutoverError('VALIDATION_FAILED', `--color must be blue or green, not "${color}"`);
        const abort = new AbortController();
        c.env?.incoming?.once('close', () => abort.abort());
        const logs = await deps.openLogs(params.name, { ...(color ? { color } : {}), ...(query.machine ? { machine: query.machine } : {}), tail: query.tail, follow: query.follow === '1' }, abort.signal);
        const headers = { 'x-cutover-color': logs.color, ...(logs.machine ? { 'x-cutover-machine': logs.machine } : {}) };
        if (query.format === 'text') return c.body(toWebStream(logs.body, abort), 200, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
        // Read after the agent answered: the colour is the one it streams (the active one unless asked).
        const labels = logLabels(instance, logs.color, logs.machine);
        return c.body(toWebStream(labelledLines(logs.body, labels), abort), 200, { ...headers, 'content-type': 'application/x-ndjson; charset=utf-8' });
      },
    }),
  ];
}
