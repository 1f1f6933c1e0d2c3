import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { request } from 'undici';
import { CutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';
import { cliConfigDir, cliEnv } from '../config/index.ts';
import { readLegacyCliFile } from '../credentials.ts';
import { contextsFileIn, findServer, readContexts } from '../cli-contexts.ts';

/** The methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiClient {
  url: string;
  /** A JSON request; an error answer is thrown as the server's CutoverError (code, message, details). */
  call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
  upload(path: string, file: string): Promise<{ digest: string; size: number }>;
  stream(path: string): Promise<AsyncIterable<Uint8Array>>;
}

/**
 * Finds the server: `CUTOVER_URL`/`CUTOVER_TOKEN` when set; else the contexts file in the user's
 * config directory (`$XDG_CONFIG_HOME/cutover/contexts.json`): the server recorded for the data
 * directory (`--data-dir`, `CUTOVER_DATA_DIR`, or `./.cutover`), else a `cli.json` an earlier
 * version left in it (until the next server start moves it), else, for the default data directory
 * only, the current one.
 */
export async function connect(dataDirFlag?: string): Promise<ApiClient> {
  const env = cliEnv();
  const named = dataDirFlag ?? env.dataDir;
  const dataDir = resolve(named ?? '.cutover');
  const file = contextsFileIn(cliConfigDir());
  let found: { url?: string; token?: string } = { ...(env.url ? { url: env.url } : {}), ...(env.token ? { token: env.token } : {}) };
  if (!found.url || !found.token) {
    let contexts;
    try {
      contexts = await readContexts(file);
    } catch (error) {
      throw new CutoverError('CONFIG_INVALID', `${(error as Error).message}, or set CUTOVER_URL and CUTOVER_TOKEN`);
    }
    const query = { dataDir, ...(env.url ? { envUrl: env.url } : {}), ...(env.token ? { envToken: env.token } : {}) };
    // The data directory's own server first (recorded, else an old cli.json), then the current one.
    found = findServer(contexts, { ...query, explicitDataDir: true });
    if (!found.url) {
      const legacy = await readLegacyCliFile(dataDir);
      if (legacy?.url) found = { url: legacy.url, ...((env.token ?? legacy.token) ? { token: env.token ?? legacy.token } : {}) };
    }
    if (!found.url && named === undefined) found = findServer(contexts, { ...query, explicitDataDir: false });
  }
  const { url, token } = found;
  if (!url) {
    throw new CutoverError(
      'SERVER_UNREACHABLE',
      named === undefined
        ? `no server to talk to: set CUTOVER_URL and CUTOVER_TOKEN, or start one with \`cutover up\` (it records itself in ${file})`
        : `no server recorded for the data directory ${dataDir} in ${file}: start it with \`cutover up --data-dir ${named}\`, or set CUTOVER_URL and CUTOVER_TOKEN`,
    );
  }
  const base = url.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${token ?? ''}` };

  async function send(method: string, path: string, body: unknown, extra: Record<string, string> = {}) {
    try {
      return await request(`${base}${path}`, {
        method: method as 'GET',
        headers: { ...headers, ...extra },
        body: body as string,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      throw new CutoverError('SERVER_UNREACHABLE', `cannot reach the Cutover server at ${base} (${(error as Error).message}); is it running?`, {
        cause: error,
      });
    }
  }

  async function parse<T>(res: Awaited<ReturnType<typeof request>>): Promise<T> {
    const text = await res.body.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      throw new CutoverError('INTERNAL', `the server answered ${res.statusCode} with something that is not JSON`);
    }
    if (res.statusCode >= 400) {
      const e = data as { code?: ErrorCode; message?: string; details?: Record<string, unknown> };
      throw new CutoverError(e.code ?? 'INTERNAL', e.message ?? `the server answered ${res.statusCode}`, { details: e.details ?? {} });
    }
    return data as T;
  }

  return {
    url: base,
    async call<T>(method: HttpMethod, path: string, body?: unknown) {
      const res = await send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'content-type': 'application/json' });
      return parse<T>(res);
    },
    async upload(path, file) {
      const res = await send('POST', path, createReadStream(file), { 'content-type': 'application/gzip' });
      return parse<{ digest: string; size: number }>(res);
    },
    async stream(path) {
      const res = await send('GET', path, undefined);
      if (res.statusCode >= 400) return parse<never>(res);
      return res.body;
    },
  };
}
