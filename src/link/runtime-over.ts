// The `Runtime` port mapped onto the agent protocol's messages (ADR 0019): one line per method,
// over a machine's session (`session-runtime.ts`).
import type { AnswerOf, MessageName, RequestOf } from '../protocol/index.ts';
import type { Runtime } from '../deploy/index.ts';

/** How a transport sends one message of the agent protocol and returns its answer (undefined when absent). */
export type SendMessage = <N extends MessageName>(name: N, request: RequestOf<N>) => Promise<AnswerOf<N>>;

/**
 * The `Runtime` port mapped onto the agent protocol's messages, over a transport (the session an
 * agent opened to the server). The artifact's bytes are not pushed (the port's `open` goes unused):
 * the agent downloads the artifact by digest.
 */
export function runtimeOver(call: SendMessage, close: () => Promise<void>): Runtime & { close(): Promise<void> } {
  const ok = async () => {};
  return {
    // The instance does not change where the artifact goes: one transport speaks to one agent.
    async ensureArtifact(_instance, digest) {
      if (await call('artifact.has', { digest })) return;
      await call('artifact.put', { digest });
    },
    ensureInstance: (instance, hosts) => call('instance.put', { instance, hosts }).then(ok),
    startSlot: (spec) => call('slot.start', spec),
    waitHealthy: (instance, color, timeoutMs) => call('slot.wait', { instance, color, timeoutMs }),
    // `reason` is only sent when it is a rollback: an older agent refuses no field it ignores,
    // and a forward flip stays the same request as before.
    flip: (instance, color, expectVersion, reason) =>
      call('instance.flip', {
        instance,
        color,
        ...(expectVersion === undefined ? {} : { expectVersion }),
        ...(reason === 'rollback' ? { reason } : {}),
      }),
    shift: (instance, color, percent) => call('instance.shift', { instance, color, percent }),
    applyDesired: (number, document) => call('machine.desired', { number, document }),
    setPreview: (instance, token) => call('instance.preview', { instance, token }).then(ok),
    setMaintenance: (instance, maintenance) =>
      (maintenance === null ? call('instance.maintenance.off', { instance }) : call('instance.maintenance.on', { instance, ...maintenance })).then(ok),
    stopSlot: (instance, color) => call('slot.stop', { instance, color }).then(ok),
    removeInstance: (instance) => call('instance.remove', { instance }).then(ok),
    listArtifacts: async () => (await call('artifact.list', {})).artifacts,
    deleteArtifact: (digest) => call('artifact.delete', { digest }).then(ok),
    describe: (instance) => call('instance.describe', { instance }),
    stats: (instance) => call('instance.stats', { instance }),
    runTest: (spec) => call('instance.test', spec),
    cancelTest: (instance) => call('instance.test.cancel', { instance }).then(ok),
    // An older agent's state has no `localRollbacks`: it made none.
    localRollbacks: async () => (await call('agent.state', {})).localRollbacks ?? [],
    ackLocalRollbacks: (ids) => (ids.length ? call('agent.local.ack', { ids }).then(ok) : Promise.resolve()),
    close,
  };
}

