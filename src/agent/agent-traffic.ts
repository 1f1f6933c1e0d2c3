import { CutoverError, COLORS } from '../shared/index.ts';
import type { Color, FlipReason } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import type { Supervisor } from '../supervisor/index.ts';
import type { Maintenance } from '../protocol/index.ts';
import type { AgentState, PersistedInstance } from './agent-state.ts';

export interface AgentTrafficDeps {
  router: Router;
  supervisor: Pick<Supervisor, 'get' | 'onChange'>;
  state(): AgentState;
  instanceOrThrow(name: string): PersistedInstance;
  save(): Promise<void>;
  /** Retries a state write that failed for a full disk until it lands. */
  retryInBackground(): void;
  dataDir: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/**
 * What the agent does to an instance's traffic: the flip, a weighted shift, the preview token and
 * the maintenance page, each persisted before the router sees it (the flip even on a full disk),
 * and the hold of a serving slot's requests while its process is down.
 */
export function createAgentTraffic(deps: AgentTrafficDeps) {
  const { router, supervisor, log, instanceOrThrow, save } = deps;
  const options = { dataDir: deps.dataDir };
  function restore(inst: PersistedInstance, before: PersistedInstance): void {
    for (const key of Object.keys(inst) as (keyof PersistedInstance)[]) delete inst[key];
    Object.assign(inst, before);
  }

  /** Persists a change to one instance, applies it to the router, and undoes the change if the router refuses it. */
  async function persistThenApply(inst: PersistedInstance, change: (i: PersistedInstance) => void, apply: () => void): Promise<void> {
    const before = { ...inst };
    change(inst);
    try {
      await save(); // persisted before traffic sees it
    } catch (error) {
      restore(inst, before);
      throw error;
    }
    try {
      apply();
    } catch (error) {
      restore(inst, before);
      await save();
      throw error;
    }
  }

  /**
   * Active slots whose process is down (crashed and restarting, or given up on): the router holds
   * their new requests (up to `pauseTimeout`, then 503 with Retry-After) instead of answering 502
   * from a refused connection, and serves them again once the restarted slot is healthy.
   */
  const down = new Set<string>();
  supervisor.onChange((info) => {
    const key = `${info.instance}/${info.color}`;
    if (deps.state().instances[info.instance]?.active !== info.color) {
      down.delete(key);
      return;
    }
    const routed = router.state().find((r) => r.name === info.instance);
    if ((info.state === 'restarting' || info.state === 'failed') && !down.has(key) && routed?.active === info.color) {
      down.add(key);
      router.deactivate(info.instance);
      log.warn({ instance: info.instance, color: info.color }, 'the serving slot is down; holding its requests until it is back');
    } else if (info.state === 'healthy' && down.delete(key)) {
      router.activate(info.instance, info.color);
      log.info({ instance: info.instance, color: info.color }, 'the serving slot is back; serving its held requests');
    }
  });

  return {
    async flip(name: string, color: Color, expectVersion?: string, reason: FlipReason = 'forward'): Promise<{ flippedAt: number }> {
      const instance = instanceOrThrow(name);
      const slot = instance.slots[color];
      if (!slot) {
        throw new CutoverError('SLOT_NOT_FOUND', `instance "${name}" has nothing in its ${color} slot to flip to`);
      }
      if (expectVersion !== undefined) {
        const state = supervisor.get(name, color)?.state ?? 'stopped';
        if (slot.version !== expectVersion || state !== 'healthy') {
          throw new CutoverError(
            'SLOT_NOT_READY',
            `the ${color} slot of "${name}" is not serving ${expectVersion} healthy (it runs ${slot.version}, ${state})`,
            { details: { color, version: slot.version, state } },
          );
        }
      }
      const before = instance.active;
      const leftBefore = instance.left;
      const underBefore = instance.flippedUnder;
      instance.active = color;
      // A flip is newer than the desired-state document held now (see `flippedUnder`).
      const held = deps.state().desired?.number;
      if (held === undefined) delete instance.flippedUnder;
      else instance.flippedUnder = held;
      // The slot this flip leaves is the one a local rollback may go back to (see `left`).
      const leaving = before && before !== color ? instance.slots[before] : undefined;
      if (leaving) instance.left = { color: before!, version: leaving.version, deploymentId: leaving.deploymentId };
      try {
        await save(); // persisted before traffic moves
      } catch (error) {
        if (!isDiskFull(error)) {
          instance.active = before;
          if (leftBefore) instance.left = leftBefore;
          else delete instance.left;
          if (underBefore === undefined) delete instance.flippedUnder;
          else instance.flippedUnder = underBefore;
          throw error;
        }
        // The emergency path: with the agent's disk full, a flip (a rollback above all) still
        // moves traffic; the write is retried until it lands. Until then a restart serves the
        // previous route (the files still hold it).
        log.error({ instance: name, color, dir: options.dataDir }, 'flipped although the agent state could not be written (disk full); retrying the write in the background');
        deps.retryInBackground();
      }
      router.activate(name, color, reason);
      for (const c of COLORS) down.delete(`${name}/${c}`); // a flip ends any hold
      return { flippedAt: Date.now() };
    },

    /**
     * A weighted step towards `color` (see `Runtime.shift`). Not persisted on purpose: the active
     * colour stays what it was, so an agent restart puts every client back on it.
     */
    shift(name: string, color: Color, percent: number): { shiftedAt: number } {
      const instance = instanceOrThrow(name);
      const slot = instance.slots[color];
      const routed = router.state().find((r) => r.name === name);
      if (!slot || !routed?.slots.some((s) => s.color === color)) {
        throw new CutoverError('SLOT_NOT_FOUND', `instance "${name}" has nothing in its ${color} slot to shift to`, {
          details: { color },
        });
      }
      if (instance.active === color) {
        throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" already serves everyone; shift to the other colour`, {
          details: { color },
        });
      }
      const slotState = supervisor.get(name, color)?.state ?? 'stopped';
      if (slotState !== 'healthy') {
        throw new CutoverError('SLOT_NOT_READY', `the ${color} slot of "${name}" is ${slotState}, not healthy; wait for it before shifting traffic to it`, {
          details: { color, version: slot.version, state: slotState },
        });
      }
      if (instance.active === null || routed.active !== instance.active) {
        throw new CutoverError('SLOT_NOT_READY', `instance "${name}" has no active colour serving yet to shift from; flip to ${color} instead`, {
          details: { color },
        });
      }
      router.shift(name, color, percent);
      return { shiftedAt: Date.now() };
    },

    /** Opens the preview of the idle colour with `token`, or closes it (null). Persisted first. */
    async setPreview(name: string, token: string | null): Promise<void> {
      const instance = instanceOrThrow(name);
      await persistThenApply(
        instance,
        (i) => {
          if (token === null) delete i.preview;
          else i.preview = token;
        },
        () => router.setPreviewToken(name, token),
      );
    },

    /** Maintenance on (the page) or off (null). Persisted first. */
    async setMaintenance(name: string, maintenance: Maintenance | null): Promise<void> {
      const instance = instanceOrThrow(name);
      const page: Maintenance | null =
        maintenance === null
          ? null
          : {
              ...(maintenance.html === undefined ? {} : { html: maintenance.html }),
              ...(maintenance.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: maintenance.retryAfterSeconds }),
            };
      await persistThenApply(
        instance,
        (i) => {
          if (page === null) delete i.maintenance;
          else i.maintenance = page;
        },
        () => router.setMaintenance(name, page),
      );
    },
  };
}

const isDiskFull = (error: unknown): boolean => (error as { code?: unknown })?.code === 'DISK_FULL';
