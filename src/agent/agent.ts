import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CutoverError } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import type { Config } from '../config/index.ts';
import { createRouter } from '../router/index.ts';
import { createSupervisor, resolveSlotUser } from '../supervisor/index.ts';
import type { SlotUser } from '../supervisor/index.ts';
import { createAgentCore } from './agent-core.ts';
import type { AgentCore } from './agent-core.ts';
import { agentPidFile, findLiveAgent, migrateAgentFiles } from './agent-files.ts';
import { agentAlive, removeOwnAgentPid, waitAgentGone, writeAgentPid } from './agent-pid-file.ts';
import type { AgentPidRecord } from './agent-pid-file.ts';
import { claimPorts, portInUse, verifyPortsOwned } from './agent-ports.ts';
import { logSlotEvents } from './slot-event-log.ts';
import { planIsolation } from './isolation.ts';
import { protocolHandlers } from './protocol-handlers.ts';
import { startSessionClient } from './session-client.ts';
import { OnceAnswers } from './once-answers.ts';
import type { SessionClient } from './session-client.ts';
import type { MachineLink } from './machine-link.ts';
import { localSocketPath, startLocalSocket } from './local-socket.ts';
import type { LocalSocket } from './local-socket.ts';
import { localMachineName } from './machine-link.ts';
import { resolveMetricsToken, startMetricsListener } from './metrics-listener.ts';
import type { MetricsListener } from './metrics-listener.ts';
import type { Isolation } from './isolation.ts';

/** The signal that tells a running agent another agent is taking over (see {@link startAgent}). */
export const HANDOVER_SIGNAL = 'SIGUSR2';

/** How {@link RunningAgent.takeOver} went. */
export interface TakeoverResult {
  /** The agent that served this data directory and was told to hand over; null when none was running. */
  previousPid: number | null;
  /** Whether it exited within the time allowed (true when there was none). */
  exited: boolean;
  waitedMs: number;
}

export interface TakeoverOptions {
  /** How long to wait for the previous agent to drain and exit. Default: `drainTimeout` + 30 s, at least 60 s. */
  timeoutMs?: number;
  /** Progress lines for a person watching (signal sent, still waiting…). */
  onProgress?: (line: string) => void;
}

export interface RunningAgent {
  /** Where users reach the instances. */
  routerPort: number;
  /** The router's TLS listener (`httpsPort`); undefined when it is off. */
  httpsPort?: number;
  /** A joined machine's session with the server. */
  session?: SessionClient;
  /** Opens the session of a machine that joined after the agent started (the server of its data directory came up later). */
  connect(machine: NonNullable<AgentOptions['machine']>): SessionClient;
  /** Keeps a session with each of these server URLs besides the first one (replicas on this data directory), and ends the others. */
  servers(urls: string[], machine: NonNullable<AgentOptions['machine']>): void;
  /** Where `GET /metrics` is served (`metricsListen`); undefined when it is off. */
  metricsPort?: number;
  /** Stops the agent and its slots; after `handover()` it only waits for the handover to finish. */
  stop(): Promise<void>;
  /**
   * Leaves the host to a successor agent that already listens on the same ports: stops accepting,
   * drains in-flight requests, stops supervising, and leaves every slot process (and its pid file)
   * running for the successor to adopt. Idempotent.
   */
  handover(): Promise<void>;
  /**
   * Step 2 of the handover, done by the successor itself (`cutover agent --takeover`): once this
   * agent has restored its slots, sends {@link HANDOVER_SIGNAL} to the agent named by
   * `<dataDir>/agent/private/agent.pid` (if that process is still the agent that wrote it), waits for it
   * to exit, then records this agent's pid there. With no previous agent running it only records
   * the pid. Throws `FORBIDDEN` if the previous agent cannot be signalled.
   */
  takeOver(options?: TakeoverOptions): Promise<TakeoverResult>;
}

/** The agent's router, supervisor and core, built from its settings (nothing listens or runs yet). */
function agentParts(
  config: Readonly<Config>,
  log: Logger,
  where: { dataDir: string; logDir: string; isolation: Isolation; slotUser: SlotUser | undefined; routerPort: () => number | undefined },
) {
  const router = createRouter({
    drainTimeoutMs: config.drainTimeout,
    pauseTimeoutMs: config.pauseTimeout,
    wsDrainTimeoutMs: config.wsDrainTimeout,
    streamGraceMs: config.takeoverStreamGrace,
    skewGraceMs: config.skewGrace,
    maxBodyBytes: config.maxRequestBody,
    // Issue 21: only these load balancers' X-Forwarded-* are kept; redirect and HSTS with the TLS listener.
    trustedProxies: config.trustedProxies,
    redirectHttp: config.redirectHttp,
    hsts: config.hsts && { maxAgeSeconds: Math.floor(config.hstsMaxAge / 1000), includeSubDomains: config.hstsIncludeSubDomains },
  });
  const supervisor = createSupervisor({
    logDir: where.logDir,
    path: config.slotPath,
    logRotation: { maxBytes: config.slotLogMaxBytes, files: config.slotLogFiles },
  });
  const unpackLimits = { maxEntries: config.unpackMaxEntries, maxBytes: config.unpackMaxSize, maxHeapMiB: Math.floor(config.unpackMaxHeap / 1024 ** 2) };
  const core = createAgentCore({
    dataDir: where.dataDir,
    router,
    supervisor,
    logDir: where.logDir,
    drainTimeoutMs: config.drainTimeout,
    unpackLimits,
    isolation: where.isolation,
    slotUidRange: config.slotUidRange,
    ...(where.slotUser ? { slotUser: where.slotUser } : {}),
    log,
    routerPort: where.routerPort,
    ...(config.tlsCertFile && config.tlsKeyFile ? { tlsFiles: { cert: config.tlsCertFile, key: config.tlsKeyFile } } : {}),
  });
  return { router, supervisor, core };
}

/** A joined machine's session with the server, answering its calls with the core. */
function machineSession(
  machine: NonNullable<AgentOptions['machine']>,
  core: AgentCore,
  config: Readonly<Config>,
  log: Logger,
  checkAnswers: boolean | undefined,
  shared: { once: OnceAnswers; inflight: Map<string, Promise<unknown>> },
): SessionClient {
  return startSessionClient({
    checkAnswers: checkAnswers === true,
    ...shared,
    link: machine.link,
    handlers: protocolHandlers(core),
    downloadsDir: join(core.dataDir, 'private', 'downloads'),
    agentVersion: machine.agentVersion,
    labels: config.machineLabels,
    log,
    ...(machine.protocol === undefined ? {} : { protocol: machine.protocol }),
  });
}

/**
 * The agent's sessions: the one with its server (first URL, the others as fallbacks), and one
 * with each other server replica of its data directory (`private/servers.json`) until issue 19
 * lets one session serve them all. They share the answers of `once` calls.
 */
function agentSessions(core: AgentCore, config: Readonly<Config>, log: Logger, options: AgentOptions) {
  const shared = { once: new OnceAnswers(), inflight: new Map<string, Promise<unknown>>() };
  const open = (machine: NonNullable<AgentOptions['machine']>) => machineSession(machine, core, config, log, options.checkAnswers, shared);
  let primary = options.machine ? open(options.machine) : undefined;
  const replicas = new Map<string, SessionClient>();
  return {
    primary: () => primary,
    connect(machine: NonNullable<AgentOptions['machine']>): SessionClient {
      primary ??= open(machine);
      return primary;
    },
    servers(urls: string[], machine: NonNullable<AgentOptions['machine']>): void {
      for (const [url, s] of replicas) {
        if (urls.includes(url)) continue;
        replicas.delete(url);
        void s.stop();
      }
      for (const url of urls) {
        if (replicas.has(url) || url === machine.link.urls[0]) continue;
        replicas.set(url, open({ ...machine, link: { ...machine.link, urls: [url] } }));
      }
    },
    async stop(): Promise<void> {
      await primary?.stop();
      for (const s of replicas.values()) await s.stop();
    },
  };
}

export interface AgentOptions {
  takeover?: boolean;
  /** Tests: check every answer the session sends against the protocol. */
  checkAnswers?: boolean;
  /** `CUTOVER_METRICS_TOKEN` */
  metricsToken?: string;
  /** A joined machine: the agent opens its session to the server (ADR 0019). */
  machine?: { link: MachineLink; agentVersion: string; /** Tests only: the protocol version announced. */ protocol?: number };
}

/**
 * The data plane on one host: the router and the supervisor, driven by the control plane through
 * the session the agent opens to it (`options.machine`, ADR 0019). It keeps serving while the
 * control plane is down.
 *
 * Restarting or upgrading the agent without dropping a connection (the handover protocol, run by
 * `cutover agent --takeover`, i.e. `options.takeover` then {@link RunningAgent.takeOver}):
 * 1. The new agent starts on the same data dir and ports while the old one runs. Every agent
 *    listens with SO_REUSEPORT, so the bind succeeds. Before its router listens, the new agent
 *    adopts the slot processes named by the pid files, re-checks their health from zero, and only
 *    routes healthy ones; slots it cannot adopt are started afresh as on a cold start.
 * 2. Once the new agent is ready, it sends the OLD agent `SIGUSR2` ({@link HANDOVER_SIGNAL}). It
 *    closes its control API and its router listener (the kernel sends every new connection to the
 *    new agent from then on), drains in-flight requests, releases its slots without stopping
 *    them, and its process exits.
 * A plain SIGTERM still stops the slots. Control-plane calls should not be made between 1 and 2:
 * either agent may answer them, and the new agent loaded the state file when it started.
 *
 * Nobody else shares the ports (ADR 0013): without `takeover`, a live agent named by `agent.pid`
 * (pid and start time) makes this one refuse (`AGENT_RUNNING`); a port that a plain bind finds
 * taken makes it refuse (`PORT_IN_USE`, naming the port and flag) unless this is a takeover and
 * that agent holds the port; and after the SO_REUSEPORT bind, any other listener that joined the
 * port meanwhile makes it refuse too. The first two checks run before a slot is adopted; a refusal
 * at the last releases the adopted slots without stopping them.
 *
 * `<dataDir>/agent/private/agent.pid` names the agent serving the data directory (pid, start time, ports):
 * written (atomically) once this agent is ready, or, while a predecessor still runs, once that one has exited; removed
 * by a plain stop. Router tuning comes from `pauseTimeout`, `wsDrainTimeout`, `skewGrace` and
 * `maxRequestBody`.
 */
export async function startAgent(config: Readonly<Config>, log: Logger, options: AgentOptions = {}): Promise<RunningAgent> {
  const isolation = planIsolation({ euid: process.geteuid?.(), httpHost: config.httpHost, allowSharedUid: config.allowSharedUid });
  if (isolation.refusal) throw new CutoverError('CONFIG_INVALID', isolation.refusal, { details: { httpHost: config.httpHost } });
  // Checked before anything starts: a metrics listener open to the network is refused, not warned about.
  const metricsToken = await resolveMetricsToken(config, options.metricsToken);
  if (isolation.warning) log.warn({ isolation: isolation.isolation }, isolation.warning);
  const slotUser = isolation.isolation === 'uid' && config.slotUser ? await resolveSlotUser(config.slotUser) : undefined;
  const dataDir = join(config.dataDir, 'agent');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // An earlier version's state and pid files move to agent/private/ before anything reads them.
  await migrateAgentFiles(dataDir, log);
  const logDir = join(dataDir, 'logs');
  // Read before anything else: once this agent is ready it may replace the file with its own pid.
  const pidFile = agentPidFile(dataDir);
  const previous: AgentPidRecord | undefined = await findLiveAgent(dataDir);
  // Before this agent touches a slot: refuses if another agent serves this data directory (unless
  // taking over from it) or anything else listens on the ports.
  await claimPorts(config, previous, options.takeover === true);
  /** Set once the router listens: tests reach their instance through it. */
  let listening: number | undefined;
  const { router, supervisor, core } = agentParts(config, log, { dataDir, logDir, isolation: isolation.isolation, slotUser, routerPort: () => listening });
  logSlotEvents(supervisor, log);

  // Before the session answers, so no call sees an empty state. Refuses invalid state files
  // unless `resetState` (AGENT_STATE_INVALID).
  await core.load({ resetState: config.resetState });
  // Adopted slots are routed before the router listens: with SO_REUSEPORT the kernel hands this
  // agent connections as soon as it listens, while a previous agent may still serve them well.
  await core.adoptRunning();
  // Slot processes no entry took over would hold their ports unmanaged. While a previous agent
  // still runs they are its own: they are swept once it has handed over (takeOver).
  if (previous === undefined) await core.stopOrphans();
  // SO_REUSEPORT on every listener, so that a later `--takeover` successor can bind beside this
  // one (Linux requires it on each socket of the group); claimPorts and verifyPortsOwned keep
  // everyone else out of the group (ADR 0013).
  const reuse = { reusePort: process.platform === 'linux' };
  let routerPort: number, httpsPort: number | undefined;
  let metrics: MetricsListener | undefined;
  try {
    routerPort = await router.listen(config.httpPort, config.httpHost, { ...reuse, proxyProtocol: config.proxyProtocol.includes('http') });
    listening = routerPort;
    // certificates set by core.load()
    if (config.httpsPort !== undefined) httpsPort = await router.listenTls(config.httpsPort, config.httpHost, { ...reuse, proxyProtocol: config.proxyProtocol.includes('https') });
    if (config.metricsListen) metrics = await startMetricsListener({ ...config.metricsListen, token: metricsToken, metricsText: () => core.metricsText(), reusePort: reuse.reusePort });
    await verifyPortsOwned([routerPort, ...(httpsPort !== undefined ? [httpsPort] : []), ...(metrics ? [metrics.port] : [])], previous);
  } catch (error) {
    await metrics?.close();
    await router.close();
    await supervisor.releaseAll(); // adopted slots keep running for whoever serves them
    await core.close();
    throw portInUse(error, config);
  }
  const local = await openLocalSocket(dataDir, config.dataDir, core, log);
  // Restoring waits for slots to get healthy; the session answers meanwhile.
  const restored = core.restore().catch((error: Error) => log.error({ err: error.message }, 'restore failed'));
  // The session answers the server's calls as the control API does; it (re)connects on its own.
  const sessions = agentSessions(core, config, log, options);
  // The address only: the token is a secret and never logged.
  const metricsAt = metrics ? { metrics: `${config.metricsListen!.host}:${metrics.port}`, metricsAuth: metricsToken !== undefined ? 'token' : 'none' } : {};
  log.info({ routerPort, ...(httpsPort !== undefined ? { httpsPort, certificates: core.edgeTls.held().map((c) => c.fingerprint) } : {}), ...(options.machine ? { machine: options.machine.link.name } : {}), ...metricsAt }, 'agent started');

  let stopping: Promise<void> | undefined;
  let handingOver: Promise<void> | undefined;
  // agent.pid names the agent that serves the data directory. While a predecessor still runs (a
  // handover in progress) it keeps its name there until it has exited.
  let pidWritten: Promise<void> | undefined;
  const recordPid = (): Promise<void> => {
    if (stopping || handingOver) return Promise.resolve();
    pidWritten ??= writeAgentPid(pidFile, { routerPort }).then(
      () => undefined,
      (error: Error) => log.error({ err: error.message, file: pidFile }, 'could not write the agent pid file'),
    );
    return pidWritten;
  };
  let watcher: NodeJS.Timeout | undefined;
  if (previous === undefined) await recordPid();
  else {
    log.info({ previousPid: previous.pid }, 'another agent serves this data directory; waiting for it to hand over');
    watcher = setInterval(() => {
      void agentAlive(previous).then((alive) => {
        if (alive) return;
        clearInterval(watcher);
        void recordPid();
      });
    }, 500);
    watcher.unref();
  }

  const handover = (): Promise<void> => {
    handingOver ??= (async () => {
      clearInterval(watcher);
      process.off(HANDOVER_SIGNAL, onHandoverSignal);
      log.info({}, 'handing over to another agent');
      await restored;
      await sessions.stop();
      await metrics?.close();
      await local?.close();
      await router.close(); // stops accepting, then drains what this agent already accepted
      await supervisor.releaseAll();
      await core.close();
      log.info({}, 'agent handed over; slots left running');
    })();
    return handingOver;
  };
  const onHandoverSignal = (): void => {
    void handover().then(() => {
      // Runs the process's own stop path (the CLI's SIGTERM handler), which then returns so the
      // process exits; stop() after a handover stops nothing more. Emitted, not sent: a real
      // signal would arrive after the event loop, now empty, has already ended the process.
      process.emit('SIGTERM', 'SIGTERM');
    });
  };
  process.on(HANDOVER_SIGNAL, onHandoverSignal);

  return {
    routerPort,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    get session() {
      return sessions.primary();
    },
    connect: sessions.connect,
    servers: sessions.servers,
    ...(metrics ? { metricsPort: metrics.port } : {}),
    handover,
    async takeOver(options: TakeoverOptions = {}): Promise<TakeoverResult> {
      const say = options.onProgress ?? (() => {});
      const timeoutMs = options.timeoutMs ?? Math.max(60_000, config.drainTimeout + 30_000);
      if (previous === undefined || !(await agentAlive(previous))) {
        clearInterval(watcher);
        await recordPid();
        return { previousPid: null, exited: true, waitedMs: 0 };
      }
      say(`waiting for this agent's slots to be served before taking over from pid ${previous.pid}…`);
      await restored;
      const started = performance.now();
      try {
        process.kill(previous.pid, HANDOVER_SIGNAL);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
          throw new CutoverError(
            'FORBIDDEN',
            `cannot send ${HANDOVER_SIGNAL} to the previous agent (pid ${previous.pid}): ${(error as Error).message}; run this agent as the same user`,
            { cause: error },
          );
        }
      }
      log.info({ previousPid: previous.pid }, 'told the previous agent to hand over');
      say(`sent ${HANDOVER_SIGNAL} to the previous agent (pid ${previous.pid}); waiting for it to drain and exit`);
      const exited = await waitAgentGone(previous, timeoutMs, (ms) =>
        say(`still waiting for the previous agent (pid ${previous.pid}) to exit: ${Math.round(ms / 1000)} s`),
      );
      const waitedMs = Math.round(performance.now() - started);
      if (!exited) log.warn({ previousPid: previous.pid, waitedMs }, 'the previous agent has not exited yet; it exits once its requests are drained');
      else await core.stopOrphans(); // its slots this agent did not adopt
      clearInterval(watcher);
      await recordPid();
      return { previousPid: previous.pid, exited, waitedMs };
    },
    stop() {
      if (handingOver) return handingOver;
      stopping ??= (async () => {
        clearInterval(watcher);
        process.off(HANDOVER_SIGNAL, onHandoverSignal);
        await restored;
        await sessions.stop();
        await metrics?.close();
        await local?.close();
        await router.close();
        await supervisor.stopAll();
        await core.close();
        await pidWritten;
        await removeOwnAgentPid(pidFile).catch(() => undefined);
        log.info({}, 'agent stopped');
      })();
      return stopping;
    },
  };
}

/**
 * The local socket of `cutover local rollback` (see `local-socket.ts`). A socket that cannot be
 * made (a data directory whose path is too long for a socket name, say) is logged, not fatal:
 * traffic matters more than the local command.
 */
async function openLocalSocket(agentDir: string, dataDir: string, core: ReturnType<typeof agentParts>['core'], log: Logger): Promise<LocalSocket | undefined> {
  const path = localSocketPath(agentDir);
  try {
    return await startLocalSocket(path, { rollback: core.localRollback, pending: core.localRollbacks, machine: () => localMachineName(dataDir) }, log);
  } catch (error) {
    log.error({ err: (error as Error).message, path }, 'could not open the local socket; `cutover local rollback` will not reach this agent');
    return undefined;
  }
}
