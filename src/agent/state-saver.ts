import { diskFullError } from '../shared/index.ts';
import type { AgentState, createStateFile } from './agent-state.ts';

/**
 * The agent's saves of its state: a full disk becomes `DISK_FULL` naming the agent's data
 * directory, and a save that failed while traffic already moved (a flip on a full disk) can be
 * retried in the background until one lands. Any later save that lands also carries the change;
 * until then the files hold the previous state, so an agent restart serves the previous route.
 */
export function createStateSaver(options: {
  file: ReturnType<typeof createStateFile>;
  current: () => AgentState;
  dataDir: string;
  retryMs: number;
  log: { info(obj: object, msg: string): void };
}) {
  const { file, current, dataDir, log } = options;
  let retryTimer: NodeJS.Timeout | undefined;
  return {
    async save(): Promise<void> {
      try {
        await file.save(current());
      } catch (error) {
        throw diskFullError(error, dataDir) ?? error;
      }
    },
    retryInBackground(): void {
      if (retryTimer) return;
      retryTimer = setInterval(() => {
        file.save(current()).then(
          () => {
            clearInterval(retryTimer);
            retryTimer = undefined;
            log.info({ dir: dataDir }, 'the agent state write landed after failing; a restart now restores the current routes');
          },
          () => undefined, // still failing: the first failure was logged
        );
      }, options.retryMs);
      retryTimer.unref();
    },
    stop(): void {
      clearInterval(retryTimer);
      retryTimer = undefined;
    },
  };
}
