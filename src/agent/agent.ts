import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { closeServer, listen } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import type { Config } from '../config/index.ts';
import { createRouter } from '../router/index.ts';
import { createSupervisor } from '../supervisor/index.ts';
import { createAgentCore } from './agent-core.ts';
import { createControlApi } from './control-api.ts';

/** The signal that tells a running agent another agent is taking over (see {@link startAgent}). */
export const HANDOVER_SIGNAL = 'SIGUSR2';

export interface RunningAgent {
  /** Where users reach the instances. */
  routerPort: number;
  /** Where the control plane reaches this agent. */
  controlPort: number;
  /** Stops the agent and its slots; after `handover()` it only waits for the handover to finish. */
  stop(): Promise<void>;
  /**
   * Leaves the host to a successor agent that already listens on the same ports: stops accepting,
   * drains in-flight requests, stops supervising, and leaves every slot process (and its pid file)
   * running for the successor to adopt. Idempotent.
   */
  handover(): Promise<void>;
}

/**
 * The data plane on one host: the router, the supervisor, and the private control API that the
 * control plane drives. It keeps serving while the control plane is down.
 *
 * Restarting or upgrading the agent without dropping a connection (the handover protocol):
 * 1. Start the new agent on the same data dir and ports while the old one runs. Both listen with
 *    SO_REUSEPORT, so the bind succeeds. Before its router listens, the new agent adopts the slot
 *    processes named by the pid files, re-checks their health from zero, and only routes healthy
 *    ones; slots it cannot adopt are started afresh as on a cold start.
 * 2. Once the new agent is ready (it printed its ports / wrote its endpoint), send the OLD agent
 *    `SIGUSR2` ({@link HANDOVER_SIGNAL}). It closes its control API and its router listener (the
 *    kernel sends every new connection to the new agent from then on), drains in-flight requests,
 *    releases its slots without stopping them, and its process exits.
 * A plain SIGTERM still stops the slots. Control-plane calls should not be made between 1 and 2:
 * either agent may answer them, and the new agent loaded the state file when it started.
 */
export async function startAgent(config: Readonly<Config>, token: string, log: Logger): Promise<RunningAgent> {
  const dataDir = join(config.dataDir, 'agent');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const logDir = join(dataDir, 'logs');
  const router = createRouter({ drainTimeoutMs: config.drainTimeout });
  const supervisor = createSupervisor({ logDir });
  const core = createAgentCore({ dataDir, router, supervisor, logDir, drainTimeoutMs: config.drainTimeout, log });
  supervisor.onChange((info) => {
    if (info.state === 'unhealthy' || info.state === 'exited') {
      log.warn({ instance: info.instance, color: info.color, version: info.version, state: info.state }, 'slot changed state');
    }
  });

  await core.load(); // before the control API answers, so no call sees an empty state
  // Adopted slots are routed before the router listens: with SO_REUSEPORT the kernel hands this
  // agent connections as soon as it listens, while a previous agent may still serve them well.
  await core.adoptRunning();
  const control = createServer(getRequestListener(createControlApi(core, token).fetch));
  const reuse = { reusePort: process.platform === 'linux' };
  const routerPort = await router.listen(config.httpPort, config.httpHost, reuse);
  let controlPort: number;
  try {
    controlPort = await listen(control, config.agentPort, config.agentHost, reuse);
  } catch (error) {
    await router.close();
    throw error;
  }
  // Restoring waits for slots to get healthy; the control API answers meanwhile.
  const restored = core.restore().catch((error: Error) => log.error({ err: error.message }, 'restore failed'));
  log.info({ routerPort, controlPort }, 'agent started');

  let stopping: Promise<void> | undefined;
  let handingOver: Promise<void> | undefined;
  const handover = (): Promise<void> => {
    handingOver ??= (async () => {
      process.off(HANDOVER_SIGNAL, onHandoverSignal);
      log.info({}, 'handing over to another agent');
      await restored;
      await closeServer(control);
      await router.close(); // stops accepting, then drains what this agent already accepted
      await supervisor.releaseAll();
      await core.close();
      log.info({}, 'agent handed over; slots left running');
    })();
    return handingOver;
  };
  const onHandoverSignal = (): void => {
    void handover().then(() => {
      // Runs the process's own stop path (the CLI's SIGTERM handler), which then returns so the
      // process exits; stop() after a handover stops nothing more. Emitted, not sent: a real
      // signal would arrive after the event loop, now empty, has already ended the process.
      process.emit('SIGTERM', 'SIGTERM');
    });
  };
  process.on(HANDOVER_SIGNAL, onHandoverSignal);

  return {
    routerPort,
    controlPort,
    handover,
    stop() {
      if (handingOver) return handingOver;
      stopping ??= (async () => {
        process.off(HANDOVER_SIGNAL, onHandoverSignal);
        await restored;
        await closeServer(control);
        await router.close();
        await supervisor.stopAll();
        await core.close();
        log.info({}, 'agent stopped');
      })();
      return stopping;
    },
  };
}
