import { OK, PROTOCOL_VERSION } from '../protocol/index.ts';
import type { AgentCore } from './agent-core.ts';
import type { Readable } from 'node:stream';
import type { AnswerOf, MessageName, RequestOf, StreamAnswerName } from '../protocol/index.ts';

/** What a handler gives back: the answer, and for a streamed answer the bytes beside it. */
export type HandlerResult<N extends MessageName> = N extends StreamAnswerName
  ? { answer: AnswerOf<N>; stream: ReadableStream<Uint8Array> }
  : AnswerOf<N> | undefined;

/** One function per message of the protocol; `body` is the request's byte stream, if it carries one. */
export type ProtocolHandlers = {
  [N in MessageName]: (request: RequestOf<N>, body: Readable) => HandlerResult<N> | Promise<HandlerResult<N>>;
};

/** The agent clamps a log tail here, whatever it is asked for (the API allows more). */
const MAX_TAIL = 10_000;

/** Each message of the agent protocol, answered by the agent core. */
export function protocolHandlers(core: AgentCore): ProtocolHandlers {
  return {
    'agent.health': () => ({ ok: true, isolation: core.isolation, protocol: PROTOCOL_VERSION }),
    'agent.state': () => {
      const localRollbacks = core.localRollbacks();
      const certificates = core.edgeTls.held();
      return {
        isolation: core.isolation,
        protocol: PROTOCOL_VERSION,
        instances: core.describe(),
        ...(localRollbacks.length ? { localRollbacks } : {}),
        ...(certificates.length ? { certificates } : {}),
      };
    },
    'agent.local.ack': async (r) => {
      await core.acknowledgeLocalRollbacks(r.ids);
      return OK;
    },
    'artifact.has': (r) => core.hasArtifact(r.digest),
    'artifact.put': async (r, body) => {
      await core.putArtifact(r.digest, body);
      return OK;
    },
    'artifact.list': async () => ({ artifacts: await core.listArtifacts() }),
    'artifact.delete': async (r) => {
      await core.deleteArtifact(r.digest);
      return OK;
    },
    'instance.put': async (r) => {
      await core.ensureInstance(r.instance, r.hosts);
      return OK;
    },
    'instance.remove': async (r) => {
      await core.removeInstance(r.instance);
      return OK;
    },
    'instance.describe': (r) => core.describe(r.instance)[0],
    'instance.stats': (r) => core.stats(r.instance),
    'instance.flip': (r) => core.flip(r.instance, r.color, r.expectVersion, r.reason ?? 'forward'),
    'instance.shift': (r) => core.shift(r.instance, r.color, r.percent),
    'instance.preview': async (r) => {
      await core.setPreview(r.instance, r.token);
      return OK;
    },
    'instance.maintenance.on': async ({ instance, ...page }) => {
      await core.setMaintenance(instance, page);
      return OK;
    },
    'instance.maintenance.off': async (r) => {
      await core.setMaintenance(r.instance, null);
      return OK;
    },
    'instance.logs': (r) => {
      const { color, lines } = core.logLines(r.instance, r.color, Math.min(r.tail ?? 100, MAX_TAIL));
      return { answer: { color }, stream: lineStream(core, r.instance, color, lines, r.follow === true) };
    },
    'slot.start': ({ instance, color, ...spec }) => core.startSlot(spec, instance, color),
    'slot.wait': (r) => core.waitHealthy(r.instance, r.color, r.timeoutMs),
    'slot.stop': async (r) => {
      await core.stopSlot(r.instance, r.color);
      return OK;
    },
    'instance.test': (r) => core.runTest(r),
    'instance.test.cancel': (r) => {
      core.cancelTest(r.instance);
      return OK;
    },
    'machine.desired': (r) => core.applyDesired(r.number, r.document),
    'tls.put': async (r) => ({ certificates: await core.edgeTls.put(r.certificates) }),
  };
}

/** The tail, then (with `follow`) every new line until the reader goes away. */
function lineStream(core: AgentCore, instance: string, color: Parameters<AgentCore['follow']>[1], tail: string[], follow: boolean) {
  const encoder = new TextEncoder();
  let unsubscribe: (() => void) | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const line of tail) controller.enqueue(encoder.encode(`${line}\n`));
      if (!follow) return controller.close();
      unsubscribe = core.follow(instance, color, (line) => controller.enqueue(encoder.encode(`${line}\n`)));
    },
    cancel() {
      unsubscribe?.();
    },
  });
}
