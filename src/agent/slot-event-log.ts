import type { Logger } from '../shared/index.ts';
import { DEFAULT_RESTART_POLICY } from '../supervisor/index.ts';
import type { SlotInfo, Supervisor } from '../supervisor/index.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * Logs what an operator must know about a slot's life: a crash and its restart (`restarting`,
 * warn), the supervisor giving up (`failed`, error), a slot turning `unhealthy` or `exited`
 * (warn), its recovery (`healthy` again after one of those, info), and while an old slot stops,
 * what its drain endpoint reports (info). Transitions only, never per request. Returns the unsubscribe.
 */
export function logSlotEvents(supervisor: Supervisor, log: Logger, windowMs = DEFAULT_RESTART_POLICY.windowMs): () => void {
  /** Slots that crashed or went unhealthy and have not been healthy since. */
  const troubled = new Set<string>();
  return supervisor.onChange((info: SlotInfo) => {
    const key = `${info.instance}\0${info.color}`;
    const slot = { instance: info.instance, color: info.color, version: info.version, state: info.state };
    const crash = info.crashes?.at(-1);
    switch (info.state) {
      case 'restarting': {
        troubled.add(key);
        const exit = { exitCode: crash?.exitCode ?? null, signal: crash?.signal ?? null };
        log.warn(
          {
            ...slot,
            ...exit,
            restarts: info.restarts ?? 0,
            attempt: crash?.attempt,
            nextRestartAt: iso(crash?.nextRestartAt),
            ...(crash?.error ? { err: crash.error } : {}),
          },
          `slot crashed (${crash?.error ?? (exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.exitCode)}`)}); restarting`,
        );
        return;
      }
      case 'failed': {
        troubled.delete(key);
        const crashes = crash ? (info.crashes ?? []).filter((c) => c.at > crash.at - windowMs).length : 0;
        log.error(
          { ...slot, crashes, restarts: info.restarts ?? 0, exitCode: crash?.exitCode ?? null, signal: crash?.signal ?? null, err: info.error },
          `slot failed: gave up after ${crashes} crashes`,
        );
        return;
      }
      case 'unhealthy':
        troubled.add(key);
        log.warn({ ...slot, lastCheck: info.lastCheck }, 'slot changed state');
        return;
      case 'exited':
        troubled.delete(key);
        log.warn({ ...slot, exitCode: info.exitCode ?? null, signal: info.signal ?? null, ...(info.error ? { err: info.error } : {}) }, 'slot changed state');
        return;
      case 'healthy':
        if (troubled.delete(key)) log.info({ ...slot, restarts: info.restarts ?? 0 }, 'slot healthy again');
        return;
      case 'stopping': {
        troubled.delete(key);
        // Each change of what the app's drain endpoint says (the supervisor reports only changes).
        const d = info.drain;
        if (d && !d.error) {
          log.info(
            { ...slot, pending: d.pending ?? null, done: d.done },
            d.done ? 'slot drained: the app reports nothing pending' : `slot draining: ${d.message ?? `${String(d.pending ?? '?')} pending`}`,
          );
        }
        return;
      }
      case 'stopped':
        troubled.delete(key);
        return;
      default:
        return;
    }
  });
}
