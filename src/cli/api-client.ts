import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { request } from 'undici';
import { CutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';
import { cliEnv } from '../config/index.ts';
import { readCliCredentials } from '../credentials.ts';

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
 * Finds the server: `CUTOVER_URL`/`CUTOVER_TOKEN` when set, else `cli.json` in the data directory
 * (`--data-dir`, `CUTOVER_DATA_DIR`, or `./.cutover`).
 */
export async function connect(dataDirFlag?: string): Promise<ApiClient> {
  const env = cliEnv();
  let url = env.url;
  let token = env.token;
  if (!url || !token) {
    const dataDir = resolve(dataDirFlag ?? env.dataDir ?? '.cutover');
    const local = await readCliCredentials(dataDir).catch(() => undefined);
    url ??= local?.url;
    token ??= local?.token;
    if (!url) {
      throw new CutoverError(
        'SERVER_UNREACHABLE',
        `no server to talk to: set CUTOVER_URL and CUTOVER_TOKEN, or run this where \`cutover up\` keeps its data (${dataDir} has no cli.json)`,
      );
    }
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
