// The agent's end of its session with the server (ADR 0019): it dials out (the server never needs
// to reach it), says hello, answers the server's calls with its protocol handlers, and reconnects
// with backoff to the next server URL it knows whenever the link is lost. Traffic never depends on
// the session: the router and the slots go on while it is away.
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CutoverError, diskFullError, httpStatusFor, isCutoverError, validate } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { FrameDecoder, PROTOCOL_VERSION, encodeFrame, specOf, undoneBy } from '../protocol/index.ts';
import type { CallFrame, Frame, InstanceStats, MessageName } from '../protocol/index.ts';
import type { ProtocolHandlers } from './protocol-handlers.ts';
import { downloadArtifact } from './artifact-download.ts';
import { connectPinned } from './pinned-tls.ts';
import type { MachineLink } from './machine-link.ts';
import { OnceAnswers } from './once-answers.ts';

export interface SessionClientOptions {
  link: MachineLink;
  handlers: ProtocolHandlers;
  /** Where interrupted artifact downloads wait to be resumed. */
  downloadsDir: string;
  agentVersion: string;
  labels: Record<string, string>;
  log: Logger;
  /** Tests only: the protocol version to announce. */
  protocol?: number;
  /** Tests: checks every answer against its message's schema before sending it (a drift fails there). */
  checkAnswers?: boolean;
  /** The answers of `once` calls, shared by the agent's sessions (a call replayed through another server is not run twice). */
  once?: OnceAnswers;
  /** Downloads in flight, shared by the agent's sessions. */
  inflight?: Map<string, Promise<unknown>>;
}

export interface SessionClient {
  /** Whether a session is open and welcomed now. */
  connected(): boolean;
  /** Resolves once welcomed (or rejects after `timeoutMs`, or with the server's refusal). */
  whenConnected(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const LOOPBACK = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/** 1 s doubling to 30 s, each between half and all of it, so a fleet does not reconnect in step. */
export function backoffMs(attempt: number, random: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/** Tries 0.5–1 s apart after a welcomed session is lost, before the backoff grows: about as long as a server takes to restart. */
export const QUICK_TRIES_AFTER_SESSION = 15;

/**
 * How long to wait after the `failures`-th failed try in a row (0-based). An agent that had a
 * session keeps trying every 0.5–1 s for {@link QUICK_TRIES_AFTER_SESSION} tries, so it is back
 * within a second of a restarted or upgraded server listening (a doubling backoff had it wait up to
 * 8 s there, past the 3 s a restarted server's calls wait for their machine); then it backs off as
 * an agent that never reached the server does from the start.
 */
export function retryDelayMs(failures: number, hadSession: boolean, random: number): number {
  if (!hadSession) return backoffMs(failures, random);
  return backoffMs(Math.max(0, failures - QUICK_TRIES_AFTER_SESSION), random);
}

/** Opens the HTTP/2 connection: pinned TLS for https (nothing is sent to a server whose certificate is not the pinned one), clear text only to loopback. */
async function open(url: string, link: MachineLink): Promise<ClientHttp2Session> {
  const u = new URL(url);
  let session: ClientHttp2Session;
  if (u.protocol === 'https:') {
    if (!link.fingerprint)
      throw new CutoverError(
        'CONFIG_INVALID',
        `the machine's link pins no certificate, so it will not connect to ${url}`,
      );
    const socket = await connectPinned(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port) || 443, { kind: link.pin ?? 'cert', sha256: link.fingerprint }, ['h2']);
    session = http2Connect(url, { createConnection: () => socket });
    // The server closed its end (it stopped): the session is over, whatever HTTP/2 was told.
    socket.once('end', () => session.destroy());
  } else if (LOOPBACK.test(url)) {
    const socket = netConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || 80, noDelay: true });
    session = http2Connect(url, { createConnection: () => socket });
    socket.once('end', () => session.destroy());
  } else
    throw new CutoverError(
      'CONFIG_INVALID',
      `${url} is plain HTTP on another machine; the server needs --tls-cert and --tls-key`,
    );
  return new Promise((resolve, reject) => {
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** Pushes the routers' counters of every instance every `ms` (the bake decides on them). */
function pushCounters(handlers: ProtocolHandlers, send: (frame: Frame) => void, ms: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    void (async () => {
      const state = await handlers['agent.state']({}, Readable.from([]));
      const instances: InstanceStats[] = [];
      for (const { name } of state!.instances) {
        const stats = await handlers['instance.stats']({ instance: name }, Readable.from([]));
        if (stats) instances.push(stats);
      }
      send({ t: 'counters', instances });
    })().catch(() => {}); // the next push tries again
  }, ms);
  return timer.unref();
}

function checkAnswer(name: MessageName, answer: unknown): void {
  const parsed = specOf(name).answer.safeParse(answer);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
    throw new CutoverError('INTERNAL', `the agent's answer to ${name} does not match the protocol: ${issues}`);
  }
}

/** The server's refusal of a session, from its JSON error body. */
async function readRefusal(stream: ClientHttp2Stream, status: number): Promise<CutoverError> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) text += chunk;
  let e: { code?: string; message?: string } = {};
  try {
    e = JSON.parse(text) as typeof e;
  } catch {
    // not JSON: the status says enough
  }
  return new CutoverError((e.code as 'INTERNAL') ?? 'INTERNAL', e.message ?? `the server answered ${status}`);
}

/** What answering a call needs. */
interface CallContext {
  link: MachineLink;
  handlers: ProtocolHandlers;
  log: Logger;
  once: OnceAnswers;
  /** Calls in flight that a repeat joins instead of running again (an artifact's download). */
  inflight: Map<string, Promise<unknown>>;
  options: SessionClientOptions;
}

/** The call running under `key`, joined by a repeat while it runs; forgotten once it ends. */
function shared<T>(inflight: Map<string, Promise<unknown>>, key: string, run: () => Promise<T>): Promise<T> {
  const running = inflight.get(key) as Promise<T> | undefined;
  if (running) return running;
  const started = run().finally(() => inflight.delete(key));
  inflight.set(key, started);
  return started;
}

/** The session a call came on: where its answer and its bytes go. */
interface Channel {
  client: ClientHttp2Session;
  send(frame: Frame): void;
  sessionId(): string;
  streams: Map<number, () => void>;
}

/** Runs one call and sends its answer: the handler's, `absent`, or the error (its own code and message). */
async function answer(ctx: CallContext, frame: CallFrame, channel: Channel): Promise<void> {
  const { handlers, link, log, once, options } = ctx;
  const name = frame.m as MessageName;
  const spec = specOf(name);
  try {
    const request = validate(spec.request, frame.request, 'The request') as never;
    const handler = handlers[name] as (request: never, body: Readable) => unknown;
    const run = async () => {
      // Over a session the artifact is not pushed: the agent downloads it by digest, resuming an interrupted download.
      const body =
        spec.stream === 'request'
          ? await downloadArtifact({
              client: channel.client,
              credential: link.credential,
              digest: (request as { digest: string }).digest,
              dir: options.downloadsDir,
            })
          : { stream: Readable.from([]), done: async () => {} };
      try {
        return await handler(request, body.stream);
      } finally {
        await body.done();
      }
    };
    // A call that makes remembered `once` answers stale (a slot stopped undoes its start): a repeat
    // of those after it is a new call (convergence restarting a release a rolling batch stopped).
    const undone = undoneBy(name, request);
    if (undone) once.forget(`${undone.message} ${undone.keyPrefix}`);
    const result =
      spec.idempotency.kind === 'once' && frame.key !== undefined
        ? await once.run(`${name} ${frame.key}`, run)
        : spec.stream === 'request' && frame.key !== undefined
          ? // Two deployments fetching the same artifact at once share one download (one partial file).
            await shared(ctx.inflight, `${name} ${frame.key}`, run)
          : await run();
    if (spec.stream === 'answer')
      return streamAnswer(
        link,
        frame.id,
        result as { answer: unknown; stream: ReadableStream<Uint8Array> },
        channel,
      );
    if (result === undefined && spec.absent) return channel.send({ t: 'answer', id: frame.id, absent: true });
    if (options.checkAnswers) checkAnswer(name, result);
    channel.send({ t: 'answer', id: frame.id, answer: result });
  } catch (error) {
    // A full disk names the directory, as any agent failure names its cause.
    const e = isCutoverError(error)
      ? error
      : (diskFullError(error, dirname(dirname(options.downloadsDir))) ?? new CutoverError('INTERNAL', `the agent failed: ${(error as Error)?.message ?? String(error)}`));
    // Every failure is logged here with its real cause, and the server gets the same message.
    const status = httpStatusFor(e.code);
    const fields = { call: name, code: e.code, err: e.message, ...(frame.key ? { key: frame.key } : {}) };
    if (status >= 500) log.error(fields, 'agent request failed');
    else if (status !== 404) log.warn(fields, 'agent request refused');
    channel.send({ t: 'answer', id: frame.id, error: e.toJSON() });
  }
}

/** The answer first, then its bytes on a stream of their own, until they end or the server cancels. */
function streamAnswer(
  link: MachineLink,
  id: number,
  result: { answer: unknown; stream: ReadableStream<Uint8Array> },
  channel: Channel,
): void {
  channel.send({ t: 'answer', id, answer: result.answer, stream: true });
  const body = Readable.fromWeb(result.stream as WebReadableStream<Uint8Array>);
  const out = channel.client.request({
    ':method': 'POST',
    ':path': `/v1/agent/streams/${channel.sessionId()}/${id}`,
    authorization: `Bearer ${link.credential}`,
  });
  const cancel = () => {
    body.destroy();
    if (!out.destroyed) out.close();
  };
  channel.streams.set(id, cancel);
  out.on('close', () => {
    channel.streams.delete(id);
    body.destroy();
  });
  out.on('error', () => {});
  out.on('response', () => {});
  body.on('error', () => out.close());
  body.pipe(out);
}

/** A pause that `wake()` cuts short (the agent stops). */
class Sleeper {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}

/**
 * Runs sessions until stopped: after a session that was welcomed, again within half a second
 * (to the same URL); after a failure, to the next URL it knows, with {@link retryDelayMs}.
 */
async function reconnecting(urls: string[], runOnce: (url: string) => Promise<boolean>, log: Logger, stopped: () => boolean, sleeper: Sleeper): Promise<void> {
  let failures = 0;
  let hadSession = false;
  let index = 0;
  while (!stopped()) {
    const url = urls[index % urls.length]!;
    let wasWelcomed = false;
    try {
      wasWelcomed = await runOnce(url);
    } catch (error) {
      log.warn({ server: url, err: (error as Error).message, code: (error as CutoverError).code }, 'cannot reach the server; serving on and trying again');
    }
    if (stopped()) break;
    if (wasWelcomed) {
      failures = 0;
      hadSession = true;
      await sleeper.sleep(Math.round(200 + 300 * Math.random()));
      continue;
    }
    index += 1;
    await sleeper.sleep(retryDelayMs(failures++, hadSession, Math.random()));
  }
}

/** Those waiting for the next welcome (or refusal). */
class Waiters {
  #waiting: Array<(error?: Error) => void> = [];

  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => settle(new CutoverError('TIMEOUT', `no session with the server within ${timeoutMs} ms`)), timeoutMs);
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.#waiting = this.#waiting.filter((w) => w !== settle);
        if (error) reject(error);
        else resolve();
      };
      this.#waiting.push(settle);
    });
  }

  settle(error?: Error): void {
    for (const settle of [...this.#waiting]) settle(error);
  }
}

export function startSessionClient(options: SessionClientOptions): SessionClient {
  const { link, handlers, log } = options;
  const ctx: CallContext = { link, handlers, log, once: options.once ?? new OnceAnswers(), inflight: options.inflight ?? new Map(), options };
  let stopped = false;
  let current: { client: ClientHttp2Session; stream: ClientHttp2Stream } | undefined;
  let welcomed = false;
  const waiters = new Waiters();
  /** The server's last refusal, until a session is welcomed: a later `whenConnected` gets it at once. */
  let refusal: Error | undefined;
  const settleWaiters = (error?: Error) => {
    refusal = error;
    waiters.settle(error);
  };

  /** One session, from connect to its end; resolves whether it was ever welcomed. */
  async function runOnce(url: string): Promise<boolean> {
    const client = await open(url, link);
    client.on('error', (error) => log.debug({ err: error.message }, 'session connection error'));
    const stream = client.request(
      {
        ':method': 'POST',
        ':path': '/v1/agent/session',
        authorization: `Bearer ${link.credential}`,
        'content-type': 'application/x-cutover-frames',
      },
      { endStream: false },
    );
    current = { client, stream };
    const send = (frame: Frame) => {
      if (!stream.destroyed && stream.writable) stream.write(encodeFrame(frame));
    };
    const streams = new Map<number, () => void>();
    let sessionId = '';
    let gotWelcome = false;
    let lastSeen = performance.now();
    let pinger: NodeJS.Timeout | undefined;
    let counters: NodeJS.Timeout | undefined;
    send({
      t: 'hello',
      name: link.name,
      protocol: options.protocol ?? PROTOCOL_VERSION,
      agent: options.agentVersion,
      labels: options.labels,
    });

    return new Promise<boolean>((resolve) => {
      let ended = false;
      const end = (why: string) => {
        if (ended) return;
        ended = true;
        clearInterval(pinger);
        clearInterval(counters);
        for (const cancel of streams.values()) cancel();
        if (current?.stream === stream) current = undefined;
        welcomed = false;
        if (!stream.destroyed) stream.close();
        client.close();
        if (!client.destroyed) setTimeout(() => client.destroy(), 1000).unref();
        if (gotWelcome)
          log.warn({ server: url, why }, 'lost the session with the server; serving on and reconnecting');
        resolve(gotWelcome);
      };
      // Anything but 200: the server refused the session (a revoked credential…); its error is in the body.
      stream.on('response', (headers) => {
        const status = Number(headers[':status']);
        if (status !== 200)
          void readRefusal(stream, status).then((error) => {
            log[error.code === 'MACHINE_CREDENTIAL_INVALID' ? 'error' : 'warn'](
              { server: url, status, code: error.code, err: error.message },
              'the server refused the session; serving on and trying again',
            );
            settleWaiters(error);
          });
      });
      const decoder = new FrameDecoder();
      stream.on('data', (chunk: Buffer | string) => {
        if (typeof chunk === 'string') return; // an error body, read above
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          return end(`the server broke the protocol: ${(error as Error).message}`);
        }
        lastSeen = performance.now();
        for (const frame of frames) {
          switch (frame.t) {
            case 'welcome':
              gotWelcome = welcomed = true;
              sessionId = frame.session;
              log.info(
                { server: url, machine: link.name, session: sessionId, protocol: frame.protocol },
                'session with the server open',
              );
              pinger = setInterval(() => {
                if (performance.now() - lastSeen > 3 * frame.heartbeatMs)
                  return end(`no frame for ${3 * frame.heartbeatMs} ms`);
                send({ t: 'ping', at: Date.now() });
              }, frame.heartbeatMs);
              pinger.unref();
              if (frame.countersMs) counters = pushCounters(handlers, send, frame.countersMs);
              settleWaiters();
              break;
            case 'refused':
              log.error(
                { server: url, code: frame.code, err: frame.message },
                'the server refused this agent',
              );
              settleWaiters(new CutoverError(frame.code as 'INTERNAL', frame.message));
              break;
            case 'ping':
              send({ t: 'pong', at: frame.at });
              break;
            case 'pong':
              break;
            case 'cancel':
              streams.get(frame.id)?.();
              break;
            case 'call':
              void answer(ctx, frame, { client, send, sessionId: () => sessionId, streams });
              break;
            default:
              log.warn({ frame: frame.t }, 'the server sent a frame the agent does not expect; ignored');
          }
        }
      });
      stream.on('close', () => end('the stream closed'));
      stream.on('error', (error) => end(error.message));
      client.on('close', () => end('the connection closed'));
    });
  }

  const sleeper = new Sleeper();
  const loop = reconnecting(link.urls, runOnce, log, () => stopped, sleeper);

  return {
    connected: () => welcomed,
    whenConnected: (timeoutMs) => (welcomed ? Promise.resolve() : refusal ? Promise.reject(refusal) : waiters.wait(timeoutMs)),
    async stop() {
      stopped = true;
      sleeper.wake();
      if (current) {
        current.stream.close();
        current.client.destroy();
      }
      waiters.settle(new CutoverError('AGENT_UNREACHABLE', 'the agent stopped'));
      await loop;
    },
  };
}
