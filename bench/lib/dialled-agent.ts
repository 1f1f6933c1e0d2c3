/**
 * A real `cutover agent` process that dials the server's end of agent sessions, run in this process
 * (`startLinkServer`): what the server drives in production since agents dial in (ADR 0019), without
 * the rest of a server. The benchmark gets the `Runtime` the server uses over that session
 * (`sessionRuntime`), the agent's pid (to sample its memory) and its router's URL.
 *
 * The agent is given the joined link the way a join leaves it, `<dataDir>/agent/private/machine.json`
 * (0600 in a 0700 directory), so it opens its session at start without a join token.
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sessionRuntime } from '../../src/link/index.ts';
import { alive, freePort, isolateCliConfig, startLinkServer, startProcess, tempDir, waitFor } from '../../src/testing/index.ts';
import type { LinkServer } from '../../src/testing/index.ts';

export interface DialledAgent {
  /** The server's end, in this process: its artifact store is where the agent downloads from. */
  server: LinkServer;
  /** The machine name the agent joined as. */
  machine: string;
  /** The `Runtime` port over the agent's session, as the server's deployer calls it. */
  runtime: ReturnType<typeof sessionRuntime>;
  /** The agent process (the node running `cutover agent`). */
  pid: number;
  routerUrl: string;
  dataDir: string;
  /** Puts an artifact into the server's store, where the agent pulls it from by digest. */
  putArtifact(file: string, digest: string): Promise<void>;
  /** Remembers a slot process, killed (its process group) if it outlives the agent's stop. */
  track(pid: number | undefined): void;
  /** Stops the agent (SIGTERM: it drains and stops its slots), kills a tracked slot still alive, stops the server end. */
  stop(): Promise<{ leaked: number[] }>;
}

/** Starts the server's end and a `cutover agent` joined to it as `machine`; resolves once its session is open. */
export async function startDialledAgent(options: { machine?: string; sessionTimeoutMs?: number } = {}): Promise<DialledAgent> {
  isolateCliConfig();
  const machine = options.machine ?? 'bench-1';
  const server = await startLinkServer({ name: machine });
  const data = await tempDir('bench-agent');
  const tracked = new Set<number>();
  let agent: Awaited<ReturnType<typeof startProcess>> | undefined;
  const stop = async () => {
    await agent?.stop();
    const leaked = [...tracked].filter(alive);
    for (const pid of leaked) {
      try {
        process.kill(-pid, 'SIGKILL'); // a slot leads its own process group
      } catch {
        // already gone
      }
    }
    await server.stop();
    await data.cleanup();
    return { leaked };
  };
  try {
    // The modes the agent sets at its start (data-dir-modes.ts), so it has none to correct and log.
    await chmod(data.dir, 0o711);
    await mkdir(join(data.dir, 'agent'), { mode: 0o711 });
    const privateDir = join(data.dir, 'agent', 'private');
    await mkdir(privateDir, { mode: 0o700 });
    // A plain-HTTP loopback server: no fingerprint, so no `pin` either (see MachineLink).
    await writeFile(join(privateDir, 'machine.json'), `${JSON.stringify(server.machineLink, null, 2)}\n`, { mode: 0o600 });
    agent = await startProcess(data.dir, ['agent', '--http-port', String(await freePort())]);
    const info = agent.info as { router: number };
    await waitFor(`machine ${machine}'s session`, () => server.link.sessionOf(machine), options.sessionTimeoutMs ?? 30_000);
    return {
      server,
      machine,
      runtime: sessionRuntime(machine, server.link.sessionOf),
      pid: agent.child.pid!,
      routerUrl: `http://127.0.0.1:${info.router}`,
      dataDir: data.dir,
      async putArtifact(file, digest) {
        if (!(await server.artifacts.has(digest))) await server.artifacts.put(createReadStream(file), digest);
      },
      track(pid) {
        if (pid !== undefined) tracked.add(pid);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
