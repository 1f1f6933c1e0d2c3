/**
 * The proxies of the pinned benchmark, started side by side in front of one app: nginx (1 worker),
 * HAProxy (1 thread), and router children (this tree's router, an older commit's, the built one),
 * each pinned to the proxy CPU. One shape for all of them: a port, the pids whose CPU and RSS
 * count, a stop.
 */
import { nginxBinary, startNginx } from './nginx.ts';
import { haproxyBinary, startHaproxy } from './haproxy.ts';
import { AGENT_NODE_FLAGS } from '../../src/shared/index.ts';
import { startChild } from './child-process.ts';
import { startRouter } from './router-procs.ts';
import type { RouterStart } from './router-procs.ts';

/** A proxy under test. */
export interface PinnedProxy {
  name: string;
  port: number;
  /** The processes whose CPU and RSS are the proxy's (nginx: master + worker). */
  pids: number[];
  /** Set for a router: how to start another one like it (the flip benchmark does). */
  router?: RouterStart;
  stop(): Promise<unknown>;
}

/** What to start: a reference proxy, or a router child started with `router`. */
export type ProxySpec =
  | { name: string; kind: 'nginx' | 'haproxy' }
  | { name: string; kind: 'router'; router: RouterStart }
  /** `processes` routers sharing one port with SO_REUSEPORT, the kernel spreading connections. */
  | { name: string; kind: 'reuseport'; processes: number; cpus: string }
  /** A Node script in `bench/lib/` taking `--upstream PORT` and printing `{"port"}` (a spike). */
  | { name: string; kind: 'script'; script: string };

/** Starts one proxy in front of 127.0.0.1:`appPort`, pinned to `cpu`; null when it is not installed. */
export async function startPinnedProxy(
  spec: ProxySpec,
  appPort: number,
  cpu: number,
): Promise<PinnedProxy | null> {
  if (spec.kind === 'nginx') {
    const binary = nginxBinary();
    if (binary === null) return null;
    const nginx = await startNginx(binary, appPort, 1, cpu);
    return { name: spec.name, port: nginx.port, pids: [nginx.pid, ...nginx.workers], stop: nginx.stop };
  }
  if (spec.kind === 'haproxy') {
    const binary = haproxyBinary();
    if (binary === null) return null;
    const haproxy = await startHaproxy(binary, appPort, cpu);
    return { name: spec.name, port: haproxy.port, pids: [haproxy.pid], stop: haproxy.stop };
  }
  if (spec.kind === 'reuseport') {
    const children = [await startRouter([`blue=1.0.0@${appPort}`], { reusePort: 0, cpuList: spec.cpus })];
    const port = children[0]!.ready.port;
    for (let i = 1; i < spec.processes; i++)
      children.push(await startRouter([`blue=1.0.0@${appPort}`], { reusePort: port, cpuList: spec.cpus }));
    return {
      name: spec.name,
      port,
      pids: children.map((c) => c.pid),
      stop: () => Promise.all(children.map((c) => c.stop())),
    };
  }
  if (spec.kind === 'script') {
    const node = [process.execPath, ...AGENT_NODE_FLAGS, new URL(spec.script, import.meta.url).pathname];
    const child = await startChild<{ port: number }>({
      what: spec.name,
      command: 'taskset',
      args: ['-c', String(cpu), ...node, '--upstream', String(appPort)],
      raiseFileLimit: true,
    });
    return { name: spec.name, port: child.ready.port, pids: [child.pid], stop: () => child.stop() };
  }
  const router = (spec as { router: RouterStart }).router;
  const child = await startRouter([`blue=1.0.0@${appPort}`], { ...router, cpu });
  return {
    name: spec.name,
    port: child.ready.port,
    pids: [child.pid],
    router,
    stop: () => child.stop(),
  };
}
