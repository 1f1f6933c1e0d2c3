import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { CutoverError, closeServer, listen } from '../shared/index.ts';
import type { Config } from '../config/index.ts';
import { isLoopbackHost } from './isolation.ts';

/** Shortest metrics token accepted: a guessable one would protect nothing. */
export const METRICS_TOKEN_MIN_LENGTH = 16;

/**
 * Whether the agent may serve metrics at `host` (pure): a loopback address without a token is
 * fine (only this machine reaches it, as with node_exporter); anything else needs a token. The
 * counters name every instance, host and version the agent routes (what the API shows viewers
 * only), and `/v1/metrics` needed the agent token, so an open listener on the network would be a
 * downgrade: refused, not warned about. Returns the refusal's message, or undefined.
 */
export function metricsExposureRefusal(host: string, hasToken: boolean): string | undefined {
  if (hasToken || isLoopbackHost(host)) return undefined;
  return (
    `metricsListen ${host} is reachable from other machines and no metrics token is set: anyone there could read every instance's counters; ` +
    'give a token in CUTOVER_METRICS_TOKEN or a file named by --metrics-token-file (metricsTokenFile), or listen on 127.0.0.1'
  );
}

/** SHA-256 of a token: both sides of the comparison have the same length, so it can be constant-time. */
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether an `Authorization` header carries the token (pure): `Bearer <token>`, compared in
 * constant time over SHA-256 digests, so neither the token's length nor its prefix leaks through timing.
 */
export function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  const m = /^Bearer +(\S+)\s*$/i.exec(header ?? '');
  return timingSafeEqual(digest(m?.[1] ?? ''), tokenDigest) && m !== null;
}

/**
 * The metrics token: `CUTOVER_METRICS_TOKEN` wins, else the file `metricsTokenFile` (trimmed).
 * Refuses (`CONFIG_INVALID`, never echoing the token) one shorter than {@link METRICS_TOKEN_MIN_LENGTH}.
 */
export async function readMetricsToken(envToken: string | undefined, file: string | undefined): Promise<string | undefined> {
  let token = envToken;
  if (token === undefined && file !== undefined) {
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new CutoverError('CONFIG_INVALID', `cannot read the metrics token file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix metricsTokenFile (--metrics-token-file)`, { cause: error });
    }
  }
  if (token !== undefined && token.length < METRICS_TOKEN_MIN_LENGTH) {
    const where = envToken !== undefined ? 'CUTOVER_METRICS_TOKEN' : `the metrics token file ${file}`;
    throw new CutoverError('CONFIG_INVALID', `${where} holds a token shorter than ${METRICS_TOKEN_MIN_LENGTH} characters; use a random one, e.g. \`openssl rand -hex 32\``);
  }
  return token;
}

/**
 * The token of the agent's metrics listener, after checking the settings: none when `metricsListen`
 * is off; refuses (`CONFIG_INVALID`) a short token or a network address without one. Called before
 * the agent joins or starts anything, so a refusal changes nothing.
 */
export async function resolveMetricsToken(config: Readonly<Pick<Config, 'metricsListen' | 'metricsTokenFile'>>, envToken: string | undefined): Promise<string | undefined> {
  if (!config.metricsListen) return undefined;
  const token = await readMetricsToken(envToken, config.metricsTokenFile);
  const refusal = metricsExposureRefusal(config.metricsListen.host, token !== undefined);
  if (refusal) throw new CutoverError('CONFIG_INVALID', refusal, { details: { metricsListen: `${config.metricsListen.host}:${config.metricsListen.port}` } });
  return token;
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

/** Answers one request: only `GET`/`HEAD /metrics`, with the token when one is set. */
function answer(req: IncomingMessage, res: ServerResponse, tokenDigest: Buffer | undefined, metricsText: () => string): void {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the only path here is /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET /metrics\n');
    return;
  }
  if (tokenDigest && !bearerMatches(req.headers.authorization, tokenDigest)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="cutover-metrics"', 'content-type': 'text/plain' }).end('a metrics token is required: Authorization: Bearer <token>\n');
    return;
  }
  const body = metricsText();
  res.writeHead(200, { 'content-type': TEXT_FORMAT, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The agent's metrics endpoint (`metricsListen`): a plain HTTP server answering only
 * `GET /metrics` with the router's counters. With SO_REUSEPORT where the agent's other listeners
 * have it, so a `--takeover` successor binds beside this one (ADR 0013).
 */
export async function startMetricsListener(options: {
  host: string;
  port: number;
  token: string | undefined;
  metricsText: () => string;
  reusePort: boolean;
}): Promise<MetricsListener> {
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  const server = createServer((req, res) => answer(req, res, tokenDigest, options.metricsText));
  const port = await listen(server, options.port, options.host, { reusePort: options.reusePort });
  return { port, close: () => closeServer(server) };
}
