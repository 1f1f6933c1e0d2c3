// The server's side of the connections agents open (ADR 0019): the HTTP/2 routes under
// `/v1/agent/` (the session stream, artifact downloads, streamed answers), each authenticated by
// the machine's credential, and the registry of connected machines the `Runtime` dispatches to.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { CutoverError, httpStatusFor, isCutoverError, peerAddress } from '../shared/index.ts';
import type { Clock, Logger } from '../shared/index.ts';
import type { ReplicaBus, Store } from '../store/index.ts';
import { authenticateMachine, machineHeartbeat } from '../control/index.ts';
import { FrameDecoder, PROTOCOL_VERSION, encodeFrame, protocolAccepted } from '../protocol/index.ts';
import type { Frame, InstanceStats } from '../protocol/index.ts';
import { AgentSession } from './session.ts';
import { sumStats } from '../deploy/index.ts';

export const DEFAULT_HEARTBEAT_MS = 10_000;
/** How long an agent has to say hello once its session stream is open. */
const HELLO_TIMEOUT_MS = 10_000;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface AgentLinkDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Where an artifact's bytes are, by digest (the server's artifact store; a replica's cache may fetch them first). */
  artifactPath(digest: string): string | Promise<string>;
  heartbeatMs?: number;
  /** How often agents push their routers' counters (the bake interval); default: never. */
  countersMs?: number;
  /** Where this replica says which machines' sessions it holds (several replicas on PostgreSQL, ADR 0025). */
  bus?: Pick<ReplicaBus, 'claim' | 'release'>;
  /** Called once a machine's session is welcomed (reconcile what it reports, send its desired state). */
  onConnect?(session: AgentSession): void;
}

export interface AgentLink {
  /** The handler for HTTP/2 requests under `/v1/agent/` (`createApiServer`'s `agent`). */
  handle(req: Http2ServerRequest, res: Http2ServerResponse): void;
  /** The live session of a machine, if its agent is connected to this server. */
  sessionOf(machine: string): AgentSession | undefined;
  /** Machines connected to this server now. */
  connected(): string[];
  /** Ends a machine's session, if it has one here (a rotated credential, a removed machine). */
  disconnect(machine: string, why: string): void;
  /** When the machine's last session here ended (`performance.now()`), if one did. */
  lostAt(machine: string): number | undefined;
  /**
   * An instance's counters summed over the machines that pushed them within two intervals (what
   * the bake decides on); undefined when none did. With `machines`, undefined unless each of them
   * pushed them to this replica (the others' counters are asked for instead).
   */
  pushedStats(instance: string, machines?: readonly string[]): InstanceStats | undefined;
  /** Ends every session (the agents reconnect, to this server once it is back or to another). */
  close(): void;
}

function bearer(req: Http2ServerRequest): string {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

function fail(res: Http2ServerResponse, error: unknown, log: Logger): void {
  const e = isCutoverError(error)
    ? error
    : new CutoverError('INTERNAL', `the server failed: ${(error as Error).message}`);
  if (!isCutoverError(error)) log.error({ err: (error as Error).message }, 'agent link request failed');
  if (res.headersSent) return void res.stream.close();
  res.writeHead(httpStatusFor(e.code), { 'content-type': 'application/json' });
  res.end(JSON.stringify(e.toJSON()));
}

export function createAgentLink(deps: AgentLinkDeps): AgentLink {
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const sessions = new Map<string, AgentSession>();
  const byId = new Map<string, AgentSession>();
  const lost = new Map<string, number>();
  const { log } = deps;

  /** Last contact, throttled to one store write per heartbeat interval. */
  const heartbeat = (session: AgentSession) => {
    let last = 0;
    return () => {
      const now = performance.now();
      if (now - last < heartbeatMs) return;
      last = now;
      void machineHeartbeat(
        deps,
        session.info.machine,
        { agentVersion: session.info.agentVersion, protocolVersion: session.info.protocol },
        session.info.address,
      ).catch((error: Error) =>
        log.warn({ machine: session.info.machine, err: error.message }, 'could not record the heartbeat'),
      );
    };
  };

  async function openSession(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const machine = await authenticateMachine(deps.store, bearer(req));
    const address = peerAddress(req.stream.session);
    res.writeHead(200, { 'content-type': 'application/x-cutover-frames' });
    const stream = res.stream;
    const refuse = (code: string, message: string) => {
      stream.end(encodeFrame({ t: 'refused', code, message }));
      log.warn({ machine: machine.name, code, err: message }, 'refused an agent session');
    };
    // The hello comes first; frames after it in the same chunk go to the session.
    const decoder = new FrameDecoder();
    const frames: Frame[] = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CutoverError('TIMEOUT', 'the agent did not say hello')),
        HELLO_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        try {
          const got = decoder.push(chunk);
          if (got.length === 0) return;
          clearTimeout(timer);
          stream.off('data', onData);
          stream.pause();
          resolve(got);
        } catch (error) {
          clearTimeout(timer);
          reject(error as Error);
        }
      };
      stream.on('data', onData);
      stream.once('close', () =>
        reject(new CutoverError('AGENT_UNREACHABLE', 'the agent left before its hello')),
      );
    });
    const hello = frames.shift()!;
    if (hello.t !== 'hello')
      return refuse('VALIDATION_FAILED', `the first frame must be hello, not ${hello.t}`);
    if (hello.name !== machine.name)
      return refuse(
        'MACHINE_CREDENTIAL_INVALID',
        `this credential belongs to machine ${machine.name}, not ${hello.name}`,
      );
    const accepted = protocolAccepted(PROTOCOL_VERSION, hello.protocol);
    if (!accepted.ok) return refuse('PROTOCOL_UNSUPPORTED', accepted.reason);
    const id = randomBytes(9).toString('base64url');
    const session = new AgentSession(
      id,
      stream,
      { machine: machine.name, protocol: hello.protocol, agentVersion: hello.agent, address },
      {
        heartbeatMs,
        log,
        onHeartbeat: () => beat(),
      },
    );
    const beat = heartbeat(session);
    // One session per machine: a reconnect replaces the one the agent lost.
    sessions.get(machine.name)?.close('the agent connected again');
    sessions.set(machine.name, session);
    byId.set(id, session);
    session.onClose(() => {
      lost.set(machine.name, performance.now());
      byId.delete(id);
      if (sessions.get(machine.name) !== session) return;
      sessions.delete(machine.name);
      // Only this replica's own claim goes: the agent may have reconnected to another already.
      deps.bus?.release(machine.name).catch((error: Error) => log.warn({ machine: machine.name, err: error.message }, 'could not say this replica no longer holds the machine'));
    });
    session.onClose(() => log.info({ machine: machine.name, session: id }, 'agent session ended'));
    await machineHeartbeat(
      deps,
      machine.name,
      { agentVersion: hello.agent, protocolVersion: hello.protocol },
      address,
    );
    session.send({ t: 'welcome', protocol: PROTOCOL_VERSION, heartbeatMs, session: id, ...(deps.countersMs ? { countersMs: deps.countersMs } : {}) });
    // Before its desired state is sent: from now on the other replicas reach the machine through this one.
    await deps.bus?.claim(machine.name).catch((error: Error) => log.warn({ machine: machine.name, err: error.message }, 'could not tell the other replicas that this one holds the machine; they cannot reach it until it reconnects'));
    // Ended while the claim was on its way: its release may have gone first.
    if (session.closed && !sessions.has(machine.name)) void deps.bus?.release(machine.name).catch(() => undefined);
    session.receiveEarly(frames, beat);
    stream.resume();
    log.info(
      {
        machine: machine.name,
        session: id,
        address,
        protocol: hello.protocol,
        agent: hello.agent,
        ...(accepted.outdated ? { upgrade: true } : {}),
      },
      'agent session started',
    );
    deps.onConnect?.(session);
  }

  /** `GET /v1/agent/artifacts/<digest>`, with `Range: bytes=N-` to resume a download. */
  async function sendArtifact(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    digest: string,
  ): Promise<void> {
    await authenticateMachine(deps.store, bearer(req));
    if (!DIGEST.test(digest))
      throw new CutoverError('ARTIFACT_INVALID', `not an artifact digest: ${JSON.stringify(digest)}`);
    const file = await deps.artifactPath(digest);
    const size = await stat(file).then(
      (s) => s.size,
      () => {
        throw new CutoverError('ARTIFACT_NOT_FOUND', `artifact ${digest} is not stored on this server`);
      },
    );
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/gzip',
      'content-length': String(size - start),
      ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    log.debug({ digest, from: start, size }, 'sending an artifact to an agent');
    const body = createReadStream(file, { start });
    body.on('error', () => res.stream.close());
    body.pipe(res);
  }

  /** `POST /v1/agent/streams/<session>/<id>`: the bytes of a streamed answer. */
  async function acceptStream(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    sessionId: string,
    id: number,
  ): Promise<void> {
    const machine = await authenticateMachine(deps.store, bearer(req));
    const session = byId.get(sessionId);
    if (!session || session.info.machine !== machine.name || !session.acceptStream(id, req)) {
      throw new CutoverError('NOT_FOUND', `no streamed answer ${id} is awaited on this session`);
    }
    req.once('end', () => res.end());
    req.once('close', () => {
      if (!res.writableEnded) res.stream.close();
    });
  }

  let closing = false;
  return {
    handle(req, res) {
      const path = req.url.split('?')[0]!;
      // A server that is stopping takes no new session: the agent dials again (another replica, or this one once it is back).
      if (closing) return fail(res, new CutoverError('SERVER_UNREACHABLE', 'the server is stopping'), log);
      let work: Promise<void>;
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && path === '/v1/agent/session') work = openSession(req, res);
      else if (req.method === 'GET' && (m = /^\/v1\/agent\/artifacts\/([^/]+)$/.exec(path)))
        work = sendArtifact(req, res, decodeURIComponent(m[1]!));
      else if (req.method === 'POST' && (m = /^\/v1\/agent\/streams\/([\w-]+)\/(\d+)$/.exec(path)))
        work = acceptStream(req, res, m[1]!, Number(m[2]));
      else work = Promise.reject(new CutoverError('NOT_FOUND', `no agent route ${req.method} ${path}`));
      work.catch((error: unknown) => fail(res, error, log));
    },
    sessionOf: (machine) => sessions.get(machine),
    connected: () => [...sessions.keys()],
    lostAt: (machine) => lost.get(machine),
    disconnect(machine, why) {
      sessions.get(machine)?.close(why);
    },
    pushedStats(instance, machines) {
      if (!deps.countersMs) return undefined;
      const maxAge = 2 * deps.countersMs + 1000;
      if (machines) {
        const pushed = machines.map((m) => sessions.get(m)?.pushedCounters(instance, maxAge));
        return pushed.every((p) => p !== undefined) ? sumStats(pushed as InstanceStats[]) : undefined;
      }
      return sumStats([...sessions.values()].flatMap((s) => s.pushedCounters(instance, maxAge) ?? []));
    },
    close() {
      closing = true;
      for (const session of sessions.values()) session.close('the server is stopping');
    },
  };
}
