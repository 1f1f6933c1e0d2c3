/**
 * The proxies of the pinned benchmark, started side by side in front of one app: nginx (1 worker),
 * HAProxy (1 thread), and router children (this tree's router, an older commit's, the built one),
 * each pinned to the proxy CPU. One shape for all of them: a port, the pids whose CPU and RSS
 * count, a stop.
 */
import { nginxBinary, startNginx } from './nginx.ts';
import { haproxyBinary, startHaproxy } from './haproxy.ts';
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
  | { name: string; kind: 'router'; router: RouterStart };

/** Starts one proxy in front of 127.0.0.1:`appPort`, pinned to `cpu`; null when it is not installed. */
export async function startPinnedProxy(spec: ProxySpec, appPort: number, cpu: number): Promise<PinnedProxy | null> {
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
  if (spec.kind !== 'router') throw new Error(`unknown proxy kind of ${spec.name}`);
  const child = await startRouter([`blue=1.0.0@${appPort}`], { ...spec.router, cpu });
  return {
    name: spec.name,
    port: child.ready.port,
    pids: [child.pid],
    router: spec.router,
    stop: () => child.stop(),
  };
}
