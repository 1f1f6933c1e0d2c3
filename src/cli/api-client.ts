import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { CutoverError } from '../shared/index.ts';
import type { ErrorCode } from '../shared/index.ts';
// The config entry (index.ts) loads the settings schema (zod) and YAML: the CLI only reads its
// environment, so it imports the environment module itself and starts ~100 ms faster (issue 22).
import { cliConfigDir, cliEnv } from '../config/env.ts';
import { durationFlag } from './format.ts';

/** Where and how to reach the server, from the global flags (`connect` adds the environment). */
export interface ConnectFlags {
  dataDir?: string;
  timeout?: string;
  /** `--ca-file`: the PEM CA (or certificate) the server's TLS certificate must chain to. */
  caFile?: string;
}

/** The methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiClient {
  url: string;
  /** How long each request waits for the server's answer (ms). */
  timeoutMs: number;
  /**
   * A JSON request; an error answer is thrown as the server's CutoverError (code, message, details).
   * `timeoutMs` overrides the client's for a call the server may take long to answer (a drain).
   */
  call<T>(method: HttpMethod, path: string, body?: unknown, options?: { timeoutMs?: number }): Promise<T>;
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
export async function connect(flags: ConnectFlags = {}): Promise<ApiClient> {
  const env = cliEnv();
  const timeoutMs = requestTimeout(flags.timeout, env.timeout);
  const named = flags.dataDir ?? env.dataDir;
  let caFile = flags.caFile ?? env.caFile;
  const dataDir = resolve(named ?? '.cutover');
  let file = '';
  let found: { url?: string; token?: string; caFile?: string } = { ...(env.url ? { url: env.url } : {}), ...(env.token ? { token: env.token } : {}) };
  if (!found.url || !found.token) {
    // The contexts file's code (and fs, crypto with it) loads only without CUTOVER_URL and CUTOVER_TOKEN.
    const { contextsFileIn, findServer, readContexts } = await import('../cli-contexts.ts');
    file = contextsFileIn(cliConfigDir());
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
      const legacy = await (await import('../credentials.ts')).readLegacyCliFile(dataDir);
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
  // The CA recorded for this server (its tlsCa, or an earlier --ca-file) unless one is given now.
  caFile ??= found.caFile;
  // A --ca-file that works for a server the contexts know is recorded there, once it has worked.
  let remember = file && flags.caFile ? () => rememberCaFile(file, base, resolve(flags.caFile!)) : undefined;
  const headers = { authorization: `Bearer ${token ?? ''}` };
  const tls = caFile === undefined ? undefined : await trusting(caFile);
  const fetchFn = tls?.fetch ?? fetch;

  // A server that accepts and never answers used to hang the CLI forever (newcomer review §1.5).
  const silent = (error: unknown, method: string, path: string, ms: number) =>
    new CutoverError(
      'SERVER_UNREACHABLE',
      `the Cutover server at ${base} did not answer ${method} ${path.split('?')[0]} within ${seconds(ms)}; is it overloaded or stuck? Wait longer with --timeout (or CUTOVER_TIMEOUT), e.g. --timeout 2m`,
      { cause: error, details: { url: base, timeoutMs: ms } },
    );

  const unreachable = (error: unknown) => {
    const untrusted = untrustedServer(error, base, caFile);
    if (untrusted) return untrusted;
    // fetch rejects with "fetch failed"; what went wrong (ECONNREFUSED 127.0.0.1:7070) is its cause.
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    return new CutoverError('SERVER_UNREACHABLE', `cannot reach the Cutover server at ${base} (${cause}); is it running?`, {
      cause: error,
      details: { url: base },
    });
  };

  /**
   * One request with Node's built-in fetch (undici costs ~100 ms of start-up to load, and fetch is
   * as fast per call here). The timer covers the answer's headers and, unless `stream`, its whole
   * body: a followed log stream may stay quiet for as long as the app does.
   */
  async function send<T>(method: string, path: string, body: string | undefined, extra: Record<string, string>, opts: { timeoutMs?: number; stream?: boolean }) {
    const ms = opts.timeoutMs ?? timeoutMs;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    let res: Response;
    try {
      res = await fetchFn(`${base}${path}`, { method, headers: { ...headers, ...extra }, ...(body === undefined ? {} : { body }), signal: abort.signal });
    } catch (error) {
      clearTimeout(timer);
      if (abort.signal.aborted) throw silent(error, method, path, ms);
      throw unreachable(error);
    }
    if (remember && res.status < 400) {
      await remember();
      remember = undefined;
    }
    if (opts.stream && res.status < 400) {
      clearTimeout(timer);
      return { res, data: undefined as T };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (abort.signal.aborted) throw silent(error, method, path, ms);
      throw unreachable(error);
    } finally {
      clearTimeout(timer);
    }
    return { res, data: answer<T>(res.status, text) };
  }

  return {
    url: base,
    timeoutMs,
    async call<T>(method: HttpMethod, path: string, body?: unknown, options: { timeoutMs?: number } = {}) {
      const json = body === undefined ? undefined : JSON.stringify(body);
      return (await send<T>(method, path, json, json === undefined ? {} : { 'content-type': 'application/json' }, options)).data;
    },
    async upload(path, file) {
      // A streamed upload stays on undici (loaded only here, by `release publish`): its headers
      // timeout starts once the body has gone out, so a large artifact is not cut short.
      const { request } = await import('undici');
      let res;
      try {
        res = await request(`${base}${path}`, { ...(tls ? { dispatcher: tls.dispatcher } : {}), method: 'POST', headers: { ...headers, 'content-type': 'application/gzip' }, body: createReadStream(file), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      } catch (error) {
        const code = (error as { code?: string } | null)?.code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw silent(error, 'POST', path, timeoutMs);
        throw unreachable(error);
      }
      return answer<{ digest: string; size: number }>(res.statusCode, await res.body.text());
    },
    async stream(path) {
      const { res } = await send<never>('GET', path, undefined, {}, { stream: true });
      return res.body ?? (async function* () {})();
    },
  };
}

/** Records `caFile` for `url` in the contexts file (see `withCaFile`); a failure only means it is not remembered. */
async function rememberCaFile(file: string, url: string, caFile: string): Promise<void> {
  const { readContexts, withCaFile, writeContexts } = await import('../cli-contexts.ts');
  try {
    const next = withCaFile(await readContexts(file), url, caFile);
    if (next) await writeContexts(file, next);
  } catch {
    // The command itself worked; the next one can be given --ca-file again.
  }
}

/**
 * A fetch that trusts only the CA in `caFile` (undici's, with an `Agent` whose TLS `ca` is that
 * file): loaded only when a CA file is given, so the everyday CLI start stays lean (bench/cli-startup.ts).
 */
async function trusting(caFile: string) {
  const [{ readFile }, { Agent, fetch: undiciFetch }] = await Promise.all([import('node:fs/promises'), import('undici')]);
  let ca: string;
  try {
    ca = await readFile(caFile, 'utf8');
  } catch (error) {
    throw new CutoverError('CONFIG_INVALID', `cannot read the CA file ${caFile} (${(error as NodeJS.ErrnoException).code}); check --ca-file or CUTOVER_CA_FILE`, { cause: error });
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CutoverError('CONFIG_INVALID', `the CA file ${caFile} holds no PEM certificate; check --ca-file or CUTOVER_CA_FILE`);
  }
  const dispatcher = new Agent({ connect: { ca } });
  const fetchWithCa = ((input: string, init: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  return { dispatcher, fetch: fetchWithCa };
}

/** The TLS failures of a server certificate the client does not trust (OpenSSL's verify codes, as Node names them). */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** `TLS_UNTRUSTED` naming `--ca-file` when `error` is a refused server certificate, else undefined. */
export function untrustedServer(error: unknown, base: string, caFile: string | undefined): CutoverError | undefined {
  const cause = (error as { cause?: { code?: unknown; message?: string } } | null)?.cause ?? (error as { code?: unknown; message?: string } | null);
  const code = typeof cause?.code === 'string' ? cause.code : '';
  if (!UNTRUSTED_CODES.has(code)) return undefined;
  const fix =
    caFile === undefined
      ? "give the CA that signed it (or the server's self-signed certificate) with --ca-file FILE or CUTOVER_CA_FILE"
      : `it is not signed by the CA in ${caFile} (--ca-file, CUTOVER_CA_FILE): give the CA that signed the server's certificate`;
  return new CutoverError('TLS_UNTRUSTED', `the Cutover server at ${base} presented a TLS certificate this CLI does not trust (${code}); ${fix}`, {
    cause: error,
    details: { url: base, reason: code },
  });
}

/** The server's JSON answer; an error answer is thrown as its CutoverError (code, message, details). */
function answer<T>(status: number, text: string): T {
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new CutoverError('INTERNAL', `the server answered ${status} with something that is not JSON`);
  }
  if (status >= 400) {
    const e = data as { code?: ErrorCode; message?: string; details?: Record<string, unknown> };
    throw new CutoverError(e.code ?? 'INTERNAL', e.message ?? `the server answered ${status}`, { details: e.details ?? {} });
  }
  return data as T;
}
/** The default wait for each answer: long enough for a slow disk, short enough to notice a stuck server. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** `--timeout` (else `CUTOVER_TIMEOUT`, else 30 s) in milliseconds; a unit is required. */
export function requestTimeout(flag: string | undefined, env: string | undefined): number {
  if (flag !== undefined) return positive(durationFlag(flag, '--timeout'), '--timeout');
  if (env !== undefined) {
    try {
      return positive(durationFlag(env, 'CUTOVER_TIMEOUT'), 'CUTOVER_TIMEOUT');
    } catch (error) {
      throw new CutoverError('CONFIG_INVALID', (error as Error).message);
    }
  }
  return DEFAULT_TIMEOUT_MS;
}

function positive(ms: number, name: string): number {
  if (ms <= 0) throw new CutoverError('VALIDATION_FAILED', `${name} must be more than 0, e.g. 30s`);
  return ms;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
