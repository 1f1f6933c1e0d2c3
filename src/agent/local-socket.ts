import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chmod, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CutoverError, closeServer, httpStatusFor, isCutoverError } from '../shared/index.ts';
import type { PersistedLocalRollback } from './agent-state.ts';
import { agentPrivateDir } from './agent-files.ts';

/**
 * The agent's local socket: `<dataDir>/agent/private/local.sock`. Who may connect is decided by
 * the file system, not by a token: the socket is 0600 in the agent's 0700 private directory, both
 * the agent user's, so only that user and root get through (connect(2) needs write permission on
 * the socket and search permission on every directory above it).
 */
export const localSocketPath = (agentDir: string): string => join(agentPrivateDir(agentDir), 'local.sock');

/** The largest request body the socket reads (an instance name in JSON). */
const MAX_BODY = 16 * 1024;

export interface LocalSocketHandlers {
  rollback(instance: string): Promise<PersistedLocalRollback>;
  pending(): PersistedLocalRollback[];
  /** The machine's name, which the server records as the rollback's actor (`machine:<name>`). */
  machine(): Promise<string>;
}

export interface LocalSocket {
  path: string;
  /** Stops answering and removes the socket, unless another agent (a `--takeover` successor) has replaced it. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new CutoverError('VALIDATION_FAILED', `the request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new CutoverError('VALIDATION_FAILED', 'the request body must be a JSON object such as {"instance":"web"}');
}

async function route(handlers: LocalSocketHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/v1/local/rollback') {
    const body = await readJson(req);
    if (typeof body.instance !== 'string' || body.instance.length === 0) {
      throw new CutoverError('VALIDATION_FAILED', 'name the instance to roll back: {"instance":"web"}', { details: { field: 'instance' } });
    }
    const rollback = await handlers.rollback(body.instance);
    return send(res, 200, { rollback, machine: await handlers.machine() });
  }
  if (req.method === 'GET' && path === '/v1/local/rollbacks') {
    return send(res, 200, { items: handlers.pending(), machine: await handlers.machine() });
  }
  throw new CutoverError('NOT_FOUND', `no local route ${req.method} ${path}`);
}

/**
 * Serves the local socket (a tiny `node:http` server: `POST /v1/local/rollback {instance}`, `GET
 * /v1/local/rollbacks`), replacing a socket file a crashed agent left. Each refusal is the agent's
 * `CutoverError` as JSON, with the status of the one code table.
 */
export async function startLocalSocket(
  path: string,
  handlers: LocalSocketHandlers,
  log: { error(obj: object, msg: string): void },
): Promise<LocalSocket> {
  const server = createServer((req, res) => {
    route(handlers, req, res).catch((error: unknown) => {
      const e = isCutoverError(error) ? error : new CutoverError('INTERNAL', `the agent failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      if (!isCutoverError(error)) log.error({ err: e.message, path: req.url }, 'local socket request failed');
      if (!res.headersSent) send(res, httpStatusFor(e.code), e.toJSON());
      else res.destroy();
    });
  });
  // A socket file is never reused: one left by a crash (nobody listens) or by the agent this one
  // takes over from (it keeps its descriptor, and no longer gets new connections) is replaced.
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The 0700 directory already keeps others out while the mode is set: no window.
  await chmod(path, 0o600);
  const { ino } = await stat(path);
  return {
    path,
    async close() {
      await closeServer(server);
      // Only our own socket: a successor may already have put its socket in this place.
      const now = await stat(path).catch(() => undefined);
      if (now?.ino === ino) await rm(path, { force: true });
    },
  };
}
