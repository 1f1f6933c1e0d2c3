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

export interface RunningAgent {
  /** Where users reach the instances. */
  routerPort: number;
  /** Where the control plane reaches this agent. */
  controlPort: number;
  stop(): Promise<void>;
}

/**
 * The data plane on one host: the router, the supervisor, and the private control API that the
 * control plane drives. It keeps serving while the control plane is down.
 */
export async function startAgent(config: Readonly<Config>, token: string, log: Logger): Promise<RunningAgent> {
  const dataDir = join(config.dataDir, 'agent');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const router = createRouter({ drainTimeoutMs: config.drainTimeout });
  const supervisor = createSupervisor({ logDir: join(dataDir, 'logs') });
  const core = createAgentCore({ dataDir, router, supervisor, drainTimeoutMs: config.drainTimeout, log });
  supervisor.onChange((info) => {
    if (info.state === 'unhealthy' || info.state === 'exited') {
      log.warn({ instance: info.instance, color: info.color, version: info.version, state: info.state }, 'slot changed state');
    }
  });

  await core.load(); // before the control API answers, so no call sees an empty state
  const control = createServer(getRequestListener(createControlApi(core, token).fetch));
  const routerPort = await router.listen(config.httpPort, config.httpHost);
  let controlPort: number;
  try {
    controlPort = await listen(control, config.agentPort, config.agentHost);
  } catch (error) {
    await router.close();
    throw error;
  }
  // Restoring waits for slots to get healthy; the control API answers meanwhile.
  const restored = core.restore().catch((error: Error) => log.error({ err: error.message }, 'restore failed'));
  log.info({ routerPort, controlPort }, 'agent started');

  let stopping: Promise<void> | undefined;
  return {
    routerPort,
    controlPort,
    stop() {
      stopping ??= (async () => {
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
