import { COLORS } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import { readPidFile, stopOrphanSlots } from '../supervisor/index.ts';
import type { SlotInfo, SlotSpec, Supervisor } from '../supervisor/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot, createStateFile } from './agent-state.ts';
import type { createSlotIdentity } from './slot-identity.ts';

export interface AgentRestoreDeps {
  router: Router;
  supervisor: Supervisor;
  stateFile: Pick<ReturnType<typeof createStateFile>, 'load'>;
  identity: Pick<ReturnType<typeof createSlotIdentity>, 'prepare' | 'refresh'>;
  state(): AgentState;
  setState(state: AgentState): void;
  specOf(name: string, color: Color, slot: PersistedSlot): SlotSpec;
  launch(name: string, color: Color, slot: PersistedSlot): Promise<SlotInfo>;
  /** The supervisor's `logDir`, where slot pid files are found for adoption. */
  logDir: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** How an agent starts serving again: its state loaded, a previous agent's slots adopted or orphans stopped, the rest restarted. */
export function createAgentRestore(deps: AgentRestoreDeps) {
  const { router, supervisor, stateFile, identity, specOf, launch, log } = deps;
  const options = { logDir: deps.logDir };
  /** Slots taken over from a previous agent by `adoptRunning`, which `restore` leaves alone. */
  const adopted = new Set<string>();

  /**
   * Routes the instance's hosts and re-applies what the router must know before any request of
   * it is served: the preview token and the maintenance page (both persisted, both lost by a
   * fresh router). A weighted shift is not persisted: after a restart everyone is on `active`.
   */
  function route(name: string, inst: PersistedInstance): void {
    router.setInstance(name, inst.hosts);
    router.setPreviewToken(name, inst.preview ?? null);
    router.setMaintenance(name, inst.maintenance ?? null);
  }

  return {
    /**
     * Loads the persisted instances; one broken entry is logged and skipped. State files that
     * exist with none valid are refused (`AGENT_STATE_INVALID`, logged) unless `resetState`,
     * which moves them aside and starts empty (see `createStateFile().load`).
     */
    async load(loadOptions: { resetState?: boolean } = {}): Promise<void> {
      await identity.prepare();
      let loaded;
      try {
        loaded = await stateFile.load(loadOptions);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'the agent state is invalid; refusing to start');
        throw error;
      }
      for (const file of loaded.movedAside) log.error({ file }, 'moved an invalid agent state file aside (--reset-state); starting empty');
      for (const name of loaded.skipped) log.error({ instance: name }, 'skipped a corrupt instance entry in the agent state');
      deps.setState(loaded.state);
    },

    /**
     * Stops the slot processes a previous agent left behind that no slot of this agent took
     * over (after `adoptRunning`): their state entry was skipped or reset, or they could not be
     * adopted (then `restore` starts the slot afresh, on a free port). Each is logged.
     */
    async stopOrphans(): Promise<void> {
      const outcomes = await stopOrphanSlots(options.logDir, (instance, color) => supervisor.get(instance, color) !== undefined);
      for (const o of outcomes) {
        const fields = { instance: o.instance, color: o.color, pid: o.pid, port: o.port, version: o.version, outcome: o.outcome };
        if (o.outcome === 'stopped' || o.outcome === 'killed') log.warn(fields, 'stopped a slot process that no agent state entry claims');
        else if (o.outcome === 'left') log.warn({ ...fields, problems: o.problems }, 'a stale slot pid file names another process now; removed the file, left the process alone');
        else log.info(fields, 'removed the pid file of a slot process that is gone');
      }
    },

    /**
     * Takes over the slot processes a previous agent left running (agent handover): for each
     * persisted slot whose pid file names a live process that `supervisor.adopt` accepts, adopts it,
     * re-checks its health from zero, and only then registers it in the router (and activates the
     * active colour). A slot that cannot be adopted is left for `restore` to start afresh. Run it
     * before the router listens, so the successor gets traffic only once its routes are ready.
     */
    async adoptRunning(timeoutMs = 30_000): Promise<void> {
      await Promise.all(
        Object.entries(deps.state().instances).map(async ([name, inst]) => {
          try {
            route(name, inst);
            await Promise.all(
              COLORS.map(async (color) => {
                const slot = inst.slots[color];
                const pidInfo = slot ? await readPidFile(options.logDir, name, color) : undefined;
                if (!slot || !pidInfo) return;
                let info;
                try {
                  info = await supervisor.adopt(specOf(name, color, slot), pidInfo);
                } catch (error) {
                  log.warn({ instance: name, color, err: (error as Error).message }, 'slot not adopted; starting it afresh');
                  return;
                }
                if (info.state === 'exited') {
                  await supervisor.stop(name, color); // forgets the dead record so `restore` can start it
                  return;
                }
                adopted.add(`${name}/${color}`);
                const outcome = await supervisor.waitHealthy(name, color, timeoutMs);
                if (!outcome.ok) log.warn({ instance: name, color, reason: outcome.message }, 'adopted slot is not healthy');
                router.setSlot(name, { color, version: slot.version, port: info.port, deploymentId: slot.deploymentId });
                if (outcome.ok && inst.active === color) router.activate(name, color);
              }),
            );
          } catch (error) {
            log.error({ instance: name, err: (error as Error).message }, 'could not adopt instance');
          }
        }),
      );
    },

    /**
     * Serves the loaded instances again: routes first, then each slot's process (except those
     * `adoptRunning` took over), flipping the active one back on once it is healthy. Runs while
     * the control API already answers.
     */
    async restore(): Promise<void> {
      await Promise.all(
        Object.entries(deps.state().instances).map(async ([name, inst]) => {
          try {
            route(name, inst);
            for (const color of COLORS) {
              const slot = inst.slots[color];
              if (!slot || adopted.has(`${name}/${color}`)) continue;
              await identity.refresh(name, inst, color, slot);
              await launch(name, color, slot);
            }
            if (inst.active && inst.slots[inst.active] && !adopted.has(`${name}/${inst.active}`)) {
              const outcome = await supervisor.waitHealthy(name, inst.active, 60_000);
              // The server may have flipped the instance meanwhile (a machine brought back to its
              // desired state): the colour to turn on is the one the state holds now, not at the start.
              const now = deps.state().instances[name]?.active;
              if (outcome.ok && now === inst.active) router.activate(name, inst.active);
              else if (!outcome.ok) log.warn({ instance: name, reason: outcome.message }, 'restored slot did not become healthy');
            }
          } catch (error) {
            log.error({ instance: name, err: (error as Error).message }, 'could not restore instance');
          }
        }),
      );
    },
  };
}
