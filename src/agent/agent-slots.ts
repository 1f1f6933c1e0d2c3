import { CutoverError } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import type { SlotSpec, Supervisor } from '../supervisor/index.ts';
import type { HealthResult, SlotStartSpec as StartRequest } from '../protocol/index.ts';
import type { AgentState, PersistedInstance, PersistedSlot } from './agent-state.ts';
import type { AgentArtifacts } from './agent-artifacts.ts';
import type { createSlotIdentity } from './slot-identity.ts';

/** How long a slot being stopped gets to finish its short requests before the app hears SIGTERM. */
const SETTLE_MS = 1000;

export interface AgentSlotsDeps {
  router: Router;
  supervisor: Supervisor;
  identity: Pick<ReturnType<typeof createSlotIdentity>, 'prepareSlot'>;
  artifacts: Pick<AgentArtifacts, 'touch' | 'release' | 'has'>;
  state(): AgentState;
  instanceOrThrow(name: string): PersistedInstance;
  specOf(name: string, color: Color, slot: PersistedSlot): SlotSpec;
  save(): Promise<void>;
  drainTimeoutMs: number;
}

/** Starting, checking and stopping an instance's slots, the state file and the router kept in step. */
export function createAgentSlots(deps: AgentSlotsDeps) {
  const { router, supervisor, identity, specOf, save, instanceOrThrow } = deps;
  const store = deps.artifacts;
  const options = { drainTimeoutMs: deps.drainTimeoutMs };

  async function launch(name: string, color: Color, slot: PersistedSlot) {
    const info = await supervisor.start(specOf(name, color, slot));
    router.setSlot(name, { color, version: slot.version, port: info.port, deploymentId: slot.deploymentId });
    return info;
  }

  async function stopSlot(name: string, color: Color): Promise<void> {
    const instance = deps.state().instances[name];
    if (instance?.active === color) {
      throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" is serving; flip away from it before stopping it`);
    }
    const routed = router.state().find((i) => i.name === name && i.slots.some((s) => s.color === color));
    if (routed && routed.weights[color] > 0) {
      throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${name}" receives traffic; flip away from it before stopping it`);
    }
    // The router stops sending the slot requests at once. Short requests get a moment to finish;
    // then the app is told (SIGTERM, its drain endpoint) while the HTTP drain goes on, so an app
    // that ends its streams (SSE) on SIGTERM ends the drain early instead of having them cut at
    // drainTimeout, and the next deployment's prepare does not wait for it (acceptance §4).
    const draining = routed ? router.drainSlot(name, color, options.drainTimeoutMs) : undefined;
    if (draining) {
      await Promise.race([draining, new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_MS, options.drainTimeoutMs)).unref())]);
    }
    await Promise.all([draining, supervisor.stop(name, color)]);
    if (instance?.slots[color]) {
      delete instance.slots[color];
      await save();
    }
  }

  return {
    launch,
    stopSlot,
    async startSlot(spec: Omit<StartRequest, 'instance' | 'color'>, name: string, color: Color) {
      const instance = instanceOrThrow(name);
      store.touch(spec.digest); // until the slot below holds it
      if (!(await store.has(spec.digest))) {
        throw new CutoverError('ARTIFACT_NOT_FOUND', `the agent has no artifact ${spec.digest}; upload it first`);
      }
      const slot: PersistedSlot = {
        version: spec.version,
        digest: spec.digest,
        start: spec.start,
        env: spec.env,
        health: spec.health,
        stopTimeoutMs: spec.stopTimeoutMs,
        deploymentId: spec.deploymentId,
        ...(spec.drain ? { drain: spec.drain } : {}),
      };
      // Before the colour's old slot is stopped: a slot that cannot be prepared changes nothing.
      await identity.prepareSlot(name, instance, slot);
      if (supervisor.get(name, color) || instance.slots[color]) await stopSlot(name, color);
      instance.slots[color] = slot;
      try {
        await save();
      } catch (error) {
        delete instance.slots[color]; // not saved: not started either
        throw error;
      }
      store.release(spec.digest); // the slot protects it from here
      const info = await launch(name, color, slot);
      return { port: info.port, ...(info.pid === undefined ? {} : { pid: info.pid }) };
    },

    async waitHealthy(name: string, color: Color, timeoutMs: number): Promise<HealthResult> {
      const outcome = await supervisor.waitHealthy(name, color, timeoutMs);
      if (outcome.ok) return { ok: true, healthySince: outcome.info.healthySince ?? Date.now() };
      return {
        ok: false,
        reason: outcome.reason,
        message: outcome.message,
        ...(outcome.lastCheck ? { lastCheck: outcome.lastCheck } : {}),
        logTail: outcome.logTail,
      };
    },
  };
}
