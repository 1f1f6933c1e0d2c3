// The server's end of one agent session (ADR 0019): calls out with ids, answers back, pings both
// ways, and the byte streams of streamed answers (log lines), which the agent sends on streams of
// their own. Everything in flight fails with AGENT_UNREACHABLE when the session ends.
import type { ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { CutoverError } from '../shared/index.ts';
import type { ErrorCode, Logger } from '../shared/index.ts';
import { FrameDecoder, encodeFrame, idempotencyKey, specOf, timeoutOf } from '../protocol/index.ts';
import type { AnswerFrame, AnswerOf, Frame, InstanceStats, MessageName, RequestOf } from '../protocol/index.ts';

/** How long a streamed answer's bytes may take to start arriving after its answer. */
const STREAM_START_MS = 10_000;

interface Pending {
  name: MessageName;
  resolve(frame: AnswerFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export interface SessionInfo {
  machine: string;
  protocol: number;
  agentVersion: string;
  address: string | null;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** A connected agent, as the server drives it. */
export class AgentSession {
  readonly id: string;
  readonly info: SessionInfo;
  #stream: ServerHttp2Stream;
  #decoder = new FrameDecoder();
  #next = 0;
  #pending = new Map<number, Pending>();
  #streams = new Map<number, { resolve(body: Readable): void; timer: NodeJS.Timeout }>();
  #closed: CutoverError | undefined;
  #lastSeen = performance.now();
  #pinger: NodeJS.Timeout;
  #log: Logger;
  #onClose: Array<() => void> = [];
  /** The latest counters the agent pushed, per instance, with when they arrived (`performance.now()`). */
  #counters = new Map<string, { stats: InstanceStats; receivedAt: number }>();

  constructor(
    id: string,
    stream: ServerHttp2Stream,
    info: SessionInfo,
    options: { heartbeatMs: number; log: Logger; onHeartbeat(): void },
  ) {
    this.id = id;
    this.info = info;
    this.#stream = stream;
    this.#log = options.log;
    this.#pinger = setInterval(() => {
      // Three heartbeats without a frame: the link is dead even if TCP has not noticed.
      if (performance.now() - this.#lastSeen > 3 * options.heartbeatMs)
        return this.close(`no frame for ${3 * options.heartbeatMs} ms`);
      this.send({ t: 'ping', at: Date.now() });
    }, options.heartbeatMs);
    this.#pinger.unref();
    stream.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.#decoder.push(chunk);
      } catch (error) {
        return this.close(`the agent broke the protocol: ${(error as Error).message}`);
      }
      this.#lastSeen = performance.now();
      for (const frame of frames) this.#receive(frame, options.onHeartbeat);
    });
    stream.on('close', () => this.close('the connection closed'));
    stream.on('error', (error) => this.close(error.message));
  }

  /** Feeds frames that arrived with the hello (the registry read them before this session existed). */
  receiveEarly(frames: Frame[], onHeartbeat: () => void): void {
    for (const frame of frames) this.#receive(frame, onHeartbeat);
  }

  /** The instance's counters as the agent last pushed them, if they are younger than `maxAgeMs`. */
  pushedCounters(instance: string, maxAgeMs: number): InstanceStats | undefined {
    const seen = this.#counters.get(instance);
    return seen && performance.now() - seen.receivedAt <= maxAgeMs ? seen.stats : undefined;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#onClose.push(listener);
  }

  send(frame: Frame): void {
    if (this.#closed || this.#stream.destroyed) return;
    this.#stream.write(encodeFrame(frame));
  }

  #receive(frame: Frame, onHeartbeat: () => void): void {
    switch (frame.t) {
      case 'answer': {
        const pending = this.#pending.get(frame.id);
        if (!pending) return; // answered after its timeout or cancel
        this.#pending.delete(frame.id);
        clearTimeout(pending.timer);
        pending.resolve(frame);
        return;
      }
      case 'ping':
        onHeartbeat();
        return this.send({ t: 'pong', at: frame.at });
      case 'pong':
        return onHeartbeat();
      case 'counters': {
        const receivedAt = performance.now();
        this.#counters.clear(); // an instance the agent no longer routes has no counters
        for (const stats of frame.instances) this.#counters.set(stats.instance, { stats, receivedAt });
        return onHeartbeat();
      }
      default:
        this.#log.warn(
          { machine: this.info.machine, frame: frame.t },
          'the agent sent a frame the server does not expect; ignored',
        );
    }
  }

  /**
   * Sends one message and resolves with its answer frame; `TIMEOUT` after the message's timeout
   * (the agent is told to cancel), `AGENT_UNREACHABLE` when the session ends first.
   */
  #call<N extends MessageName>(
    name: N,
    request: RequestOf<N>,
    options: CallOptions = {},
    /** Told the call's id before the call is sent (a streamed answer waits for its bytes by it). */
    onId?: (id: number) => void,
  ): Promise<AnswerFrame> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = ++this.#next;
    onId?.(id);
    const timeoutMs = timeoutOf(name, request);
    const key = idempotencyKey(name, request);
    return new Promise<AnswerFrame>((resolve, reject) => {
      const pending: Pending = { name, resolve, reject, timer: undefined };
      const giveUp = (error: CutoverError) => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(pending.timer);
        this.send({ t: 'cancel', id });
        reject(error);
      };
      pending.timer = setTimeout(
        () =>
          giveUp(
            new CutoverError(
              'TIMEOUT',
              `the agent of machine ${this.info.machine} did not answer ${name} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      pending.timer.unref?.();
      options.signal?.addEventListener(
        'abort',
        () => giveUp(new CutoverError('TIMEOUT', `${name} on machine ${this.info.machine} was cancelled`)),
        { once: true },
      );
      this.#pending.set(id, pending);
      this.send({ t: 'call', id, m: name, ...(key === undefined ? {} : { key }), timeoutMs, request });
    });
  }

  /** One message and its answer (undefined when the message allows an absent one); the agent's refusal is thrown as its own error. */
  async call<N extends MessageName>(
    name: N,
    request: RequestOf<N>,
    options: CallOptions = {},
  ): Promise<AnswerOf<N>> {
    const frame = await this.#call(name, request, options);
    throwIfError(frame, this.info.machine);
    if (frame.absent) return undefined as AnswerOf<N>;
    return frame.answer as AnswerOf<N>;
  }

  /**
   * A message whose answer carries bytes (log lines): the answer, and the body the agent streams
   * beside it on `POST /v1/agent/streams/<session>/<id>`. Aborting `signal` ends both.
   */
  async callStreamed<N extends MessageName>(
    name: N,
    request: RequestOf<N>,
    signal: AbortSignal,
  ): Promise<{ answer: AnswerOf<N>; body: Readable }> {
    if (specOf(name).stream !== 'answer') throw new TypeError(`${name} does not stream its answer`);
    let id = 0;
    let body: Promise<Readable> | undefined;
    // The bytes are awaited under the call's id from before the call goes out: they may arrive first.
    const waitForBytes = (callId: number) => {
      id = callId;
      body = new Promise<Readable>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#streams.delete(callId);
          reject(new CutoverError('TIMEOUT', `the agent of machine ${this.info.machine} did not start streaming ${name}`));
        }, STREAM_START_MS + timeoutOf(name, request));
        timer.unref();
        this.#streams.set(callId, { resolve, timer });
      });
    };
    const answered = this.#call(name, request, { signal }, waitForBytes);
    body?.catch(() => {}); // awaited below, unless the call fails first
    const frame = await answered;
    if (frame.error) {
      this.#dropStream(id);
      throwIfError(frame, this.info.machine);
    }
    const stream = await body!;
    // The reader went away (a `cutover logs -f` ended): the agent stops sending.
    const stop = () => {
      this.send({ t: 'cancel', id });
      stream.destroy();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', stop));
    return { answer: frame.answer as AnswerOf<N>, body: stream };
  }

  /** The bytes of streamed answer `id` have arrived (the registry matched the agent's POST). */
  acceptStream(id: number, body: Readable): boolean {
    const waiting = this.#streams.get(id);
    if (!waiting) return false;
    this.#dropStream(id);
    waiting.resolve(body);
    return true;
  }

  #dropStream(id: number): void {
    const waiting = this.#streams.get(id);
    if (waiting) clearTimeout(waiting.timer);
    this.#streams.delete(id);
  }

  /** Ends the session: every call in flight fails with AGENT_UNREACHABLE naming `why`. */
  close(why: string): void {
    if (this.#closed) return;
    this.#closed = new CutoverError(
      'AGENT_UNREACHABLE',
      `the agent of machine ${this.info.machine} is not connected (${why}); it reconnects by itself once it can`,
      {
        details: { machine: this.info.machine },
      },
    );
    clearInterval(this.#pinger);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.#closed);
    }
    this.#pending.clear();
    for (const id of [...this.#streams.keys()]) this.#dropStream(id);
    if (!this.#stream.destroyed) this.#stream.close();
    for (const listener of this.#onClose.splice(0)) listener();
  }
}

function throwIfError(frame: AnswerFrame, machine: string): void {
  if (!frame.error) return;
  // The agent's own code and message, so the real cause reaches the deployment record.
  throw new CutoverError(frame.error.code as ErrorCode, frame.error.message, {
    details: { ...(frame.error.details ?? {}), machine },
  });
}
