/**
 * Starting the router benchmarks' processes — the app, the router child, the idle-connection
 * holder — and talking to them over loopback.
 */
import { Client } from 'undici';
import { startChild } from './child-process.ts';
import { AGENT_NODE_FLAGS } from '../../src/shared/index.ts';
import type { BenchChild } from './child-process.ts';

/** The Host every router benchmark sends: the router child routes it to instance `bench`. */
export const BENCH_HOST = 'bench.test';

/** A started app: `ready.port`. */
export type AppChild = BenchChild<{ port: number }>;
/** A started router child: proxy `port`, admin `control` port. */
export type RouterChild = BenchChild<{ port: number; control: number }>;

/** What the router child's `/usage` answers. */
export interface RouterUsage {
  /** user + system CPU so far, µs (process.cpuUsage()). */
  cpuUs: number;
  userUs: number;
  systemUs: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  at: number;
}

const lib = (file: string) => new URL(file, import.meta.url).pathname;

/** Starts `bench-app.ts` answering as `version` (on CPU `cpu` only when given, `taskset -c`). */
export function startApp(version: string, cpu?: number): Promise<AppChild> {
  const node = [process.execPath, lib('bench-app.ts'), '--version', version];
  const [command, ...args] = cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
  return startChild({ what: `app ${version}`, command: command as string, args });
}

/** How to start a router child besides its colours. */
export interface RouterStart {
  /** Node flags before the script (e.g. `--cpu-prof`), after the agent's own. */
  nodeFlags?: string[];
  /** The agent's flags; default `AGENT_NODE_FLAGS` unless `BENCH_ROUTER_NODE_FLAGS` names others. */
  agentFlags?: readonly string[];
  /** Another router entry to load (`--router-module`): a snapshot of an older commit, or `dist/`. */
  module?: string;
  /** Run on this CPU only (`taskset -c`). */
  cpu?: number;
  /** Or on these (`taskset -c 0,1`). */
  cpuList?: string;
  /** Another copy of `router-child.ts` to run (the JavaScript one of the built-package variant). */
  child?: string;
  /** Listen on this port with SO_REUSEPORT (0: a free one), so another child can share it. */
  reusePort?: number;
  /** Listen with TLS only, serving this pair (PEM files) as the default certificate. */
  tls?: { cert: string; key: string };
  /** Flags of `router-child.ts` itself (e.g. `--no-fast-path`). */
  childFlags?: string[];
}

/**
 * Starts `router-child.ts` with the given colours (`blue=1.0.0@PORT`), the first one active.
 * Its open-files limit is raised to the hard limit so it can hold thousands of client connections.
 */
export function startRouter(slots: string[], o: RouterStart = {}): Promise<RouterChild> {
  const active = slots[0]?.split('=')[0] ?? 'blue';
  const agentFlags =
    o.agentFlags ?? process.env.BENCH_ROUTER_NODE_FLAGS?.split(' ').filter(Boolean) ?? AGENT_NODE_FLAGS;
  const node = [
    process.execPath,
    '--expose-gc',
    ...agentFlags,
    ...(o.nodeFlags ?? []),
    o.child ?? lib('router-child.ts'),
    ...slots.flatMap((s) => ['--slot', s]),
    '--active',
    active,
    ...(o.module === undefined ? [] : ['--router-module', o.module]),
    ...(o.childFlags ?? []),
    ...(o.reusePort === undefined ? [] : ['--port', String(o.reusePort), '--reuse-port']),
    ...(o.tls === undefined ? [] : ['--tls-cert', o.tls.cert, '--tls-key', o.tls.key]),
  ];
  const cpus = o.cpu === undefined ? o.cpuList : String(o.cpu);
  const [command, ...args] = cpus === undefined ? node : ['taskset', '-c', cpus, ...node];
  return startChild({ what: 'router', command: command as string, args, raiseFileLimit: true });
}

/** Starts `idle-clients.ts`: resolves once its `n` connections got their answer (or failed). */
export function startIdleClients(
  port: number,
  n: number,
): Promise<BenchChild<{ open: number; failed: number; ms: number }>> {
  return startChild({
    what: 'idle-clients',
    command: process.execPath,
    args: [lib('idle-clients.ts'), '--port', String(port), '--n', String(n), '--host', BENCH_HOST],
    raiseFileLimit: true,
    readyTimeoutMs: 60_000,
  });
}

/** A kept-alive client to a loopback port. */
export function loopback(port: number): Client {
  return new Client(`http://127.0.0.1:${port}`, { keepAliveTimeout: 60_000, pipelining: 1 });
}

/** One JSON request; throws with the body on a non-2xx answer. */
export async function json<T>(client: Client, method: 'GET' | 'POST', path: string): Promise<T> {
  const res = await client.request({ method, path, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path} → ${res.statusCode}: ${text}`);
  return JSON.parse(text) as T;
}
