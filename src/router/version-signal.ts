// The version signal for frontends: `GET /.well-known/cutover/version` answered by the router
// itself (never proxied), as JSON or as a Server-Sent Events stream (HTML Living Standard,
// "Server-sent events") that pushes an `event: version` message at each flip or shift.
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Color } from '../shared/index.ts';

/** Where the router's endpoints live on every routed host. */
export const WELL_KNOWN_PREFIX = '/.well-known/cutover/';
export const VERSION_PATH = '/.well-known/cutover/version';
export const VERSION_SCRIPT_PATH = '/.well-known/cutover/version.js';
export const PREVIEW_PATH = '/.well-known/cutover/preview';

/** Absolute path of the browser helper (an ES module), for servers that want to serve it themselves. */
export const versionScriptFile: string = fileURLToPath(
  new URL('./browser/cutover-version.js', import.meta.url),
);

/** What the version endpoint answers: the colour a client of this instance gets now. */
export interface VersionInfo {
  instance: string;
  version: string;
  deploymentId: string | null;
  color: Color;
  /** When the active colour last changed (ISO 8601), or null if it never did. */
  flippedAt: string | null;
}

/** How a stream decides which colour's version it reports after a change. */
export type StreamFollows = 'active' | 'preview' | Color;

/** One open SSE stream. */
export interface VersionStream {
  readonly res: ServerResponse;
  /** `'active'`: the active colour; `'preview'`: the preview colour; a colour: pinned during a shift. */
  follows: StreamFollows;
}

const JSON_HEADERS = ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store'];
const SSE_HEADERS = [
  'content-type',
  'text/event-stream; charset=utf-8',
  'cache-control',
  'no-store',
  // Tells buffering proxies in front of the router (nginx) to pass events through at once.
  'x-accel-buffering',
  'no',
];
/** Ask EventSource to reconnect quickly after a router restart (the default is a few seconds). */
const SSE_PREAMBLE = 'retry: 1000\n';
const HEARTBEAT = ': heartbeat\n\n';

function event(info: VersionInfo): string {
  return `event: version\ndata: ${JSON.stringify(info)}\n\n`;
}

/** Answers the version as JSON (headers only for HEAD), with `extra` headers (name/value pairs). */
export function sendVersion(
  res: ServerResponse,
  info: VersionInfo,
  head: boolean,
  extra: readonly string[],
): void {
  const body = JSON.stringify(info);
  res.writeHead(200, [...JSON_HEADERS, ...extra, 'content-length', String(Buffer.byteLength(body))]);
  if (head) res.end();
  else res.end(body);
}

/** True when the client asked for an event stream. */
export function wantsEventStream(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/event-stream');
}

let script: Promise<Buffer> | null = null;

/** Serves the browser helper; the file is read once (asynchronously) and kept. */
export function sendVersionScript(res: ServerResponse, head: boolean): void {
  script ??= readFile(versionScriptFile);
  script.then(
    (body) => {
      if (res.destroyed) return;
      res.writeHead(200, [
        'content-type',
        'text/javascript; charset=utf-8',
        'content-length',
        String(body.length),
        'cache-control',
        'public, max-age=300',
      ]);
      if (head) res.end();
      else res.end(body);
    },
    () => {
      script = null;
      if (res.destroyed) return;
      res.writeHead(500, ['content-type', 'text/plain', 'content-length', '0']);
      res.end();
    },
  );
}

/**
 * The open version streams, by instance key. A heartbeat comment goes to every stream every
 * `heartbeatMs` so idle proxies and browsers keep the connection; one timer serves all streams
 * and runs only while some are open.
 */
export class VersionHub<K> {
  readonly #streams = new Map<K, Set<VersionStream>>();
  readonly #heartbeatMs: number;
  #timer: NodeJS.Timeout | null = null;
  #count = 0;
  /** Set by `closeAll()`: a stream opened afterwards gets its first event and ends. */
  #closed = false;

  constructor(heartbeatMs: number) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** Number of open streams. */
  get size(): number {
    return this.#count;
  }

  /** Starts a stream on `res` (with `extra` headers) and sends `first` at once. */
  open(
    key: K,
    res: ServerResponse,
    follows: StreamFollows,
    first: VersionInfo,
    extra: readonly string[],
  ): void {
    res.writeHead(200, [...SSE_HEADERS, ...extra]);
    res.write(SSE_PREAMBLE + event(first));
    if (this.#closed) {
      res.end();
      return;
    }
    const stream: VersionStream = { res, follows };
    let set = this.#streams.get(key);
    if (set === undefined) {
      set = new Set();
      this.#streams.set(key, set);
    }
    set.add(stream);
    this.#count++;
    res.once('close', () => {
      const streams = this.#streams.get(key);
      if (streams?.delete(stream) === true) {
        this.#count--;
        if (streams.size === 0) this.#streams.delete(key);
        if (this.#count === 0) this.#stopHeartbeat();
      }
    });
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#heartbeat(), this.#heartbeatMs);
      this.#timer.unref();
    }
  }

  /** Sends every stream of `key` the version `resolve` gives it (streams it gives null are skipped). */
  publish(key: K, resolve: (stream: VersionStream) => VersionInfo | null): void {
    const streams = this.#streams.get(key);
    if (streams === undefined) return;
    for (const stream of streams) {
      const info = resolve(stream);
      if (info !== null && !stream.res.destroyed) stream.res.write(event(info));
    }
  }

  /** Ends the streams of `key` (the instance is gone). */
  closeKey(key: K): void {
    const streams = this.#streams.get(key);
    if (streams === undefined) return;
    for (const stream of [...streams]) stream.res.end();
  }

  /** Ends every stream (the router is closing). */
  closeAll(): void {
    this.#closed = true;
    for (const key of [...this.#streams.keys()]) this.closeKey(key);
    this.#stopHeartbeat();
  }

  #heartbeat(): void {
    for (const streams of this.#streams.values()) {
      for (const stream of streams) if (!stream.res.destroyed) stream.res.write(HEARTBEAT);
    }
  }

  #stopHeartbeat(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
