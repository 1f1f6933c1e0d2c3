import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { CutoverError, createApiServer, isCutoverError, listen, readTlsFiles, systemActor, systemClock } from './shared/index.ts';
import type { Clock, Logger } from './shared/index.ts';
import { cliConfigDir } from './config/index.ts';
import type { Config } from './config/index.ts';
import { describeDatabase, openArtifactBlobs, openReplicaBus, openStore } from './store/index.ts';
import { createArtifactStore, createCachedArtifactStore } from './releases/index.ts';
import { createDeployer, createTrafficControls, pendingConfigOf, pruneArtifacts } from './deploy/index.ts';
import type { DeployerOptions } from './deploy/index.ts';
import {
  advertiseServer,
  claimPorts,
  findLiveAgent,
  hostMachineName,
  linkMachine,
  portFree,
  joinLocalServer,
  readMachineLink,
  readServers,
  resolveMetricsToken,
  writeLocalJoin,
  startAgent,
  waitAgentGone,
} from './agent/index.ts';
import type { AgentPidRecord, MachineLink } from './agent/index.ts';
import { bootstrapAdminToken, collectUnreferencedArtifacts, createDeployAppConfig, pruneAppConfigVersions, createJoinToken, ensureBuiltInChannels, reportProblem } from './control/index.ts';
import { createApi } from './api/index.ts';
import { openServerKeyRing } from './appconfig/index.ts';
import { createAgentLink, createFleetRuntime, createReplicaRelay } from './link/index.ts';
import { createBakeWatcher, createHealthWatcher, createLostInstanceHandler, createRollbackGuard, createScheduler } from './scheduler/index.ts';
import { recordServerForCli } from './credentials.ts';
import { contextsFileIn } from './cli-contexts.ts';
import { secureAgentFiles, secureDatabaseFiles, secureServerFiles, withPrivateUmask } from './data-dir-modes.ts';

/** The product version (server, agent and CLI share it), from package.json. */
export const PRODUCT_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** The longest pause between two collections of unreferenced uploads. */
const HOUR_MS = 3_600_000;

export interface RunningServer {
  url: string;
  /** SHA-256 of the API's TLS certificate (DER, hex); undefined when it serves plain HTTP. */
  tlsFingerprint?: string;
  /** SHA-256 of the CA that signed it (`tlsCa`), what join tokens pin; undefined without one. */
  tlsCaFingerprint?: string;
  apiPort: number;
  /** Set only on the very first start: the admin token, never shown again. */
  adminToken?: string;
  /** Resolves once the machine's agent has a session with this server (`TIMEOUT` after `timeoutMs`). */
  waitForMachine(name: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** The name `cutover up` gives the machine it runs on when it joins it: the host name, made a valid machine name. */
export const upMachineName = (): string => hostMachineName();

/**
 * The control plane's composition root: config → store → services → HTTP API. It can stop and
 * restart at any time; the agent keeps serving meanwhile.
 */
export async function startServer(
  config: Readonly<Config>,
  log: Logger,
  options: { clock?: Clock; /** default: `contexts.json` in {@link cliConfigDir} */ contextsFile?: string } = {},
): Promise<RunningServer> {
  // Tests of time-driven behaviour (windows, soak, backoff) pass a manual clock; everything else uses the system's.
  const clock = options.clock ?? systemClock;
  // Before anything changes: a key others may read is refused here, with the chmod that fixes it.
  const tls = config.tlsCert && config.tlsKey ? await readTlsFiles(config.tlsCert, config.tlsKey, config.tlsCa) : undefined;
  // Modes first, whatever an earlier version or the operator left; the database's again once it exists.
  await secureServerFiles(config.dataDir, config.database, log);
  const store = await withPrivateUmask(() => openStore(config.database!, { log }));
  await secureDatabaseFiles(config.database, log);
  await ensureBuiltInChannels({ store, clock });
  // Replicas on PostgreSQL share artifacts through it, and <dataDir>/artifacts is this replica's
  // cache (ADR 0024); with SQLite there is one server and the directory is the store.
  const blobs = openArtifactBlobs(config.database!);
  const localArtifacts = createArtifactStore(join(config.dataDir, 'artifacts'));
  const cache = blobs && createCachedArtifactStore(localArtifacts, blobs, { log });
  const artifacts = cache ?? localArtifacts;
  // Replicas on PostgreSQL reach the machines connected to the others through it (ADR 0025): each
  // says which machines' sessions it holds and runs the calls the others relay to them.
  const holder = leaseHolder(config);
  const bus = openReplicaBus(config.database!, holder.serverId, holder.replica);
  const relay = bus && createReplicaRelay({ bus, link: () => link, log });
  const analysisThresholds = { minRequests: config.bakeMinRequests, maxErrorRate: config.bakeMaxErrorRate };
  // Every agent dials in (ADR 0019): the runtime sends each call to the session of the instance's
  // machine. Rollbacks made on a machine while the server was away (`cutover local rollback`)
  // become rollback deployments by `machine:<name>`: when it connects, before any deploy or
  // rollback is planned, and every bakeCheckInterval; until then the watchers leave them alone.
  // An instance runs on every machine of its placement: each call fans out, the flip is a barrier
  // (ADR 0023), and a machine that (re)connects is brought to the desired state by the deployer.
  const fleet = createFleetRuntime({
    store,
    clock,
    log,
    link: () => link,
    localRollbacks: { rollbackWindowMs: config.rollbackWindow, lockTtlMs: config.lockTtl, log },
    flipTimeoutMs: config.flipTimeout,
    converge: () => deployer.converge,
    keyRing: () => keyRing(),
    ...(relay ? { relay } : {}),
  });
  const { runtime, localRollbacks } = fleet;
  const link = createAgentLink({
    store,
    clock,
    log,
    artifactPath: (digest) => artifacts.localFile(digest),
    countersMs: config.bakeCheckInterval,
    ...(bus ? { bus } : {}),
    onConnect: (session) => void fleet.onConnect(session),
  });
  // App config's key ring (ADR 0027): secrets are opened only on the way into a slot's spec.
  const keyRing = await withPrivateUmask(() => openServerKeyRing(config.appConfigKeyDir!, store, log));
  const appConfig = createDeployAppConfig({ store, keyRing });
  const deployerOptions: DeployerOptions = {
    appConfig,
    store,
    runtime,
    clock,
    openArtifact: (digest) => artifacts.open(digest) as Readable,
    rollbackWindowMs: config.rollbackWindow,
    lockTtlMs: config.lockTtl,
    holder,
    // On PostgreSQL a dead replica is known at once (its advisory lock is free, ADR 0025): its
    // deployments are resumed within a second or two instead of at lease expiry (ADR 0026).
    ...(bus ? { replicaAlive: (serverId: string) => bus.alive(serverId) } : {}),
    log,
    analysisThresholds,
    // An agent that cannot be asked now is the deployment's own failure to report, not this one's.
    settleLocal: () => localRollbacks.run().then(
      () => undefined,
      () => undefined,
    ),
    // A weighted step's failed analysis or a failed verify test files a problem against the release, like the bake does.
    fileProblem: async (d, problem) => {
      if (!d.app) return;
      const { source, ...report } = problem;
      await reportProblem({ store, clock }, { app: d.app, version: d.toVersion, ...report }, systemActor(source), source);
    },
  };
  const deployer = createDeployer(deployerOptions);
  // One guard for both watchers: a slot both find bad is rolled back once, never flipped back.
  const guard = createRollbackGuard({ store, deployer, clock });
  const watching = { store, deployer, runtime, clock, log, guard, holds: localRollbacks.holds };
  const bake = createBakeWatcher({
    ...watching,
    // The bake decides on the counters the agents push every bake interval, summed over machines
    // (asked of each machine instead when some push theirs to another replica).
    runtime: { stats: fleet.instanceStats },
    bakeMs: config.bakeWindow,
    intervalMs: config.bakeCheckInterval,
    thresholds: analysisThresholds,
  });
  // An instance the agent no longer knows (its state reset) is routed again, then its recorded version redeployed.
  const lost = createLostInstanceHandler({ store, runtime, deployer, clock, log });
  const health = createHealthWatcher({
    ...watching,
    intervalMs: config.bakeCheckInterval,
    rollbackOnUnhealthy: config.rollbackOnUnhealthy,
    onLost: lost.onLost,
    onNeedsDeploy: lost.redeploy,
  });
  // With the fleet policy's `applyAppConfig`, pending app config is deployed in each instance's window.
  const scheduler = createScheduler({ store, deployer, runtime, clock, log, intervalMs: config.fleetInterval, pendingConfig: (instances) => pendingConfigOf(appConfig, instances) });
  const api = createApi({
    store,
    keyRing,
    deployer,
    traffic: createTrafficControls({ store, runtime, clock }),
    scheduler,
    version: PRODUCT_VERSION,
    ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
    ...(tls?.caFingerprint ? { tlsCaFingerprint: tls.caFingerprint } : {}),
    pruneKeepReleases: config.pruneKeepReleases,
    runtime,
    artifacts,
    maxApiBody: config.maxApiBody,
    maxArtifactSize: config.maxArtifactSize,
    clock,
    log,
    openLogs: fleet.openLogs,
    connectedMachines: fleet.connected,
    // A certificate set or removed, an instance's hosts changed: its machines get it now (other replicas: the bus's nudge).
    desiredStateChanged: fleet.desiredChanged,
    // The session may be held by another replica: it ends there too (the notification reaches this one as well).
    disconnectMachine: (name, why) => {
      link.disconnect(name, why);
      relay?.disconnect(name, why).catch((error: Error) => log.warn({ machine: name, err: error.message }, 'could not ask the other replicas to end the machine\'s session'));
    },
  });
  // The agents' sessions come in on the API's port (HTTP/2 under /v1/agent/, ADR 0019).
  // Before any agent can connect: its claim needs this replica registered on the bus.
  await relay?.start(fleet.desiredChanged);
  const server = createApiServer({ ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}), http1: getRequestListener(api.fetch), agent: link.handle });
  let apiPort: number;
  try {
    apiPort = await listen(server.server, config.apiPort, config.apiHost);
  } catch (error) {
    await relay?.close();
    await store.close();
    await blobs?.close();
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? apiPortInUse(config, error) : error;
  }
  const url = `${tls ? 'https' : 'http'}://${config.apiHost}:${apiPort}`;
  // What an agent on this machine dials: loopback, even when the API listens on every address.
  const localUrl = url.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//127.0.0.1');
  const adminToken = await bootstrapAdminToken(store, clock);
  await recordServerForCli({
    contextsFile: options.contextsFile ?? contextsFileIn(cliConfigDir()),
    dataDir: resolve(config.dataDir),
    url,
    ...(adminToken ? { adminToken } : {}),
    // The local CLI then trusts this server without --ca-file.
    ...(tls?.caFingerprint && config.tlsCa ? { caFile: resolve(config.tlsCa) } : {}),
    log,
  });

  // The automatic local join (`cutover up`, or a server and an agent sharing this data directory
  // under systemd): while the agent of this data directory has not joined, a single-use join token
  // for it waits in the private directory, 0600, where only this user (and root) can read it.
  if (!(await readMachineLink(config.dataDir).catch(() => undefined))) {
    const { token } = await createJoinToken(
      { store, clock, serverUrls: [localUrl], ...(tls ? { tlsFingerprint: tls.fingerprint } : {}), ...(tls?.caFingerprint ? { tlsCaFingerprint: tls.caFingerprint } : {}) },
      { expires: '1h', uses: 1 },
      systemActor('local-join', 'admin'),
    );
    await writeLocalJoin(config.dataDir, { url: localUrl, token });
  }

  // Other replicas of this data directory: its agent keeps a session with each (until issue 19).
  await advertiseServer(config.dataDir, localUrl).catch((error: Error) => log.warn({ err: error.message }, 'could not advertise this server to the agent of its data directory'));

  // After listen: holding the API port proves this replica's previous incarnation is gone, so its leases are recovered at once.
  await deployer.recover().catch((error: Error) => log.warn({ err: error.message }, 'could not settle interrupted deployments yet'));
  // Before the watchers start, so none of them judges an instance from a record its machine has left.
  await localRollbacks.run().catch((error: Error) => log.warn({ err: error.message }, 'could not read the local rollbacks of the agent yet'));
  // An agent that is down is said once at start (above); the health watcher says nothing every pass either.
  const localTimer = every(config.bakeCheckInterval, log, 'could not reconcile the local rollbacks of the agent', () =>
    localRollbacks.run().catch((error: unknown) => {
      if (!isCutoverError(error) || error.code !== 'AGENT_UNREACHABLE') throw error;
    }),
  );
  // What each connected machine runs (for drift) and its desired state, sent again when it changed.
  const syncTimer = every(config.bakeCheckInterval, log, 'could not sync the machines', () => fleet.syncAll());
  // Deployments whose server died are taken over even when no replica restarts: at once when the
  // store tells a dead replica (`replicaAlive`), else once their lease expired.
  const settleTimer = every(settleIntervalMs(config.lockTtl, deployerOptions.replicaAlive !== undefined), log, 'could not settle interrupted deployments yet', () => deployer.recover());
  const warmTimer = every(config.warmCheckInterval, log, 'stopping expired warm slots failed', () => deployer.stopExpiredWarmSlots());
  // One sweep at a time; stop() waits for the one running so it never meets a closed store. The
  // first shares what only this replica's directory holds (uploaded before replicas shared artifacts).
  let collecting: Promise<unknown> = (cache?.shareLocal() ?? Promise.resolve()).catch((error: Error) =>
    log.warn({ err: error.message }, 'could not share the artifacts only this replica holds'),
  );
  const collectTimer = setInterval(() => {
    collecting = collecting.then(() =>
      collectUnreferencedArtifacts({ store, artifacts, clock, log }, config.unreferencedArtifactTtl).catch((error: Error) =>
        log.warn({ err: error.message }, 'collecting unreferenced artifacts failed'),
      ),
    );
  }, Math.max(1000, Math.min(HOUR_MS, config.unreferencedArtifactTtl)));
  collectTimer.unref();
  // App-config versions no recent deployment and no running slot refers to (docs/app-config.md).
  const configTimer = every(HOUR_MS, log, 'pruning app-config versions failed', () => pruneAppConfigVersions({ store, clock }));
  // What `cutover prune` does, now and then: artifacts of releases no slot runs and no recent
  // deploy used go from the agent; a later deploy fetches them again by digest.
  const pruneTimer =
    config.pruneInterval > 0
      ? every(config.pruneInterval, log, 'pruning artifacts failed', async () => {
          // Each replica prunes the machines whose session it holds: every machine once, not once per replica.
          const own = link.connected();
          if (own.length === 0) return;
          const r = await pruneArtifacts({ store, runtime: runtime.on(own), clock }, { dryRun: false, keepPerInstance: config.pruneKeepReleases });
          if (r.remove.length) log.info({ removed: r.remove.map((x) => x.digest), freedBytes: r.freedBytes }, 'pruned artifacts on the agent');
        })
      : undefined;
  scheduler.start();
  bake.start();
  health.start();
  // The fingerprint is what an operator compares with `join-token` output and `--print-fingerprint`.
  log.info({ url, database: describeDatabase(config.database!), ...(tls ? { tlsFingerprint: tls.fingerprint } : {}), ...(tls?.caFingerprint ? { tlsCaFingerprint: tls.caFingerprint } : {}) }, 'server started');

  let stopping: Promise<void> | undefined;
  return {
    url,
    apiPort,
    ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
    ...(tls?.caFingerprint ? { tlsCaFingerprint: tls.caFingerprint } : {}),
    ...(adminToken ? { adminToken } : {}),
    async waitForMachine(name, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!link.sessionOf(name)) {
        if (Date.now() > deadline) throw new CutoverError('TIMEOUT', `the agent of machine ${name} did not connect to the server within ${Math.round(timeoutMs / 1000)} s; see its log lines above`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(warmTimer);
        clearInterval(localTimer);
        clearInterval(syncTimer);
        clearInterval(pruneTimer);
        clearInterval(settleTimer);
        clearInterval(collectTimer);
        clearInterval(configTimer);
        await collecting;
        await localRollbacks.idle();
        await scheduler.stop();
        await bake.stop();
        await health.stop();
        link.close();
        fleet.stop();
        await advertiseServer(config.dataDir, localUrl, false).catch(() => undefined);
        await server.close();
        // A deployment cut short here is settled by recover() at the next start.
        await Promise.race([deployer.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
        // Its claims go with it; the other replicas' calls to its machines fail until the agents reconnect there.
        await relay?.close();
        await store.close();
        await blobs?.close();
        log.info({}, 'server stopped');
      })();
      return stopping;
    },
  };
}

/**
 * Who this server process is in the leases it takes: a random id per start, and the replica's
 * address (host, API address and port), the same across restarts, so a restarted replica recognises
 * its previous incarnation's leases. With an API port chosen by the OS (0) there is no stable address.
 */
function leaseHolder(config: Readonly<Config>) {
  return {
    serverId: `srv_${randomBytes(6).toString('hex')}`,
    replica: config.apiPort ? `${hostname()}/${config.apiHost}:${config.apiPort}` : null,
    pid: process.pid,
  };
}

/** Runs `task` every `ms` on an unref()d timer; a failure is logged as a warning and the next run comes anyway. */
function every(ms: number, log: Logger, failed: string, task: () => Promise<unknown>): NodeJS.Timeout {
  const timer = setInterval(() => {
    task().catch((error: Error) => log.warn({ err: error.message }, failed));
  }, ms);
  return timer.unref();
}

/**
 * How often deployments of dead servers are looked for: every second when the store tells a dead
 * replica (a deployment resumes within 1-2 s of its replica's death); else twice per lease (only
 * expiry tells), at most every 30 s, at least every second.
 */
const settleIntervalMs = (lockTtlMs: number, livenessKnown: boolean) => (livenessKnown ? 1000 : Math.max(1000, Math.min(30_000, Math.floor(lockTtlMs / 2))));

/** The agent's composition root with the shared credentials files. */
export async function startAgentProcess(
  config: Readonly<Config>,
  log: Logger,
  options: {
    takeover?: boolean;
    /** `CUTOVER_JOIN_TOKEN` */ joinToken?: string;
    /** `CUTOVER_METRICS_TOKEN` */ metricsToken?: string;
    /** `--repin`: take the join token's pin before reporting (a renewed server certificate). */ repin?: boolean;
  } = {},
) {
  await secureAgentFiles(config.dataDir, log);
  // Before the join: a refused metrics setting must not use up the join token.
  const metricsToken = await resolveMetricsToken(config, options.metricsToken);
  // With `server` (or a link saved at an earlier join): joined before anything starts, so a refused
  // join changes nothing. Without either, the server of this data directory may have left a local
  // join token (`cutover up`, or both under systemd): the agent joins with it, now or once it appears.
  if (options.repin && !config.server) throw new CutoverError('VALIDATION_FAILED', '--repin re-pins the server this agent joined: give --server (or the setting server) too');
  const saved = await readMachineLink(config.dataDir);
  const link =
    saved || config.server || options.joinToken
      ? await linkMachine(config, options.joinToken, PRODUCT_VERSION, log, { repin: options.repin === true })
      : await joinLocalServer(config, PRODUCT_VERSION, log);
  const agent = await startAgent(config, log, {
    ...options,
    ...(metricsToken !== undefined ? { metricsToken } : {}),
    ...(link ? { machine: { link, agentVersion: PRODUCT_VERSION } } : {}),
  });
  if (!link) waitForLocalServer(config, log, agent);
  else dialReplicas(config, agent, { link, agentVersion: PRODUCT_VERSION });
  return Object.assign(agent, { machine: link?.name ?? null });
}

/** Keeps a session with every server replica of this data directory (`private/servers.json`), checked every 2 s. */
function dialReplicas(config: Readonly<Config>, agent: Awaited<ReturnType<typeof startAgent>>, machine: { link: MachineLink; agentVersion: string }): void {
  const sync = () => void readServers(config.dataDir).then((urls) => agent.servers(urls, machine));
  sync();
  const timer = setInterval(sync, 2000);
  timer.unref();
  const stop = agent.stop;
  agent.stop = () => {
    clearInterval(timer);
    return stop();
  };
}

/** Until the server of this data directory leaves a local join token, looks for it every second; then joins and opens the session. */
function waitForLocalServer(config: Readonly<Config>, log: Logger, agent: Awaited<ReturnType<typeof startAgent>>): void {
  log.warn({ dataDir: config.dataDir }, 'this agent has not joined a server: serving on, and joining the server of this data directory once it runs (or give --server with a join token)');
  const timer = setInterval(() => {
    void joinLocalServer(config, PRODUCT_VERSION, log).then(
      (link) => {
        if (!link) return;
        clearInterval(timer);
        agent.connect({ link, agentVersion: PRODUCT_VERSION });
        dialReplicas(config, agent, { link, agentVersion: PRODUCT_VERSION });
      },
      (error: Error) => log.warn({ err: error.message }, 'could not join the server of this data directory yet'),
    );
  }, 1000);
  timer.unref();
  const stop = agent.stop;
  agent.stop = () => {
    clearInterval(timer);
    return stop();
  };
}

/** The live agent serving a data directory, as `cutover up` finds it (see {@link findServingAgent}). */
export interface ServingAgent {
  record: AgentPidRecord;
  /** The machine it joined as; none for an agent that never joined (an earlier version's). */
  machine?: string;
}

/**
 * The agent `<dataDir>/agent/private/agent.pid` names, if it is alive (pid and start time), and the
 * machine it joined as (`agent/private/machine.json`): `cutover up` reuses a joined one (it
 * reconnects by itself) and takes over from one that never joined.
 */
export async function findServingAgent(config: Readonly<Config>): Promise<ServingAgent | undefined> {
  const record = await findLiveAgent(join(config.dataDir, 'agent'));
  if (record === undefined) return undefined;
  const link = await readMachineLink(config.dataDir).catch(() => undefined);
  return { record, ...(link ? { machine: link.name } : {}) };
}

/** The machine the agent of a data directory joined as, if it ever joined. */
export async function joinedMachine(dataDir: string): Promise<string | undefined> {
  return (await readMachineLink(dataDir).catch(() => undefined))?.name;
}

/** Stops a running agent by pid (SIGTERM: it drains and stops its slots), waiting up to `timeoutMs`, then SIGKILL. */
export async function stopAgentByPid(record: AgentPidRecord, timeoutMs = 30_000): Promise<void> {
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  if (!(await waitAgentGone(record, timeoutMs, () => {}))) process.kill(record.pid, 'SIGKILL');
}

/** Refuses (`PORT_IN_USE`, naming the port and `--api-port`) when the API port is taken: `cutover up` checks before it starts anything. */
export async function checkApiPortFree(config: Readonly<Config>): Promise<void> {
  if (config.apiPort !== 0 && !(await portFree(config.apiPort, config.apiHost))) throw apiPortInUse(config);
}

/** Refuses (`PORT_IN_USE`, naming the port and its flag) when the agent's router (or metrics) port is taken. */
export function checkAgentPortsFree(config: Readonly<Config>): Promise<void> {
  return claimPorts(config, undefined, false);
}

function apiPortInUse(config: Readonly<Config>, cause?: unknown): CutoverError {
  return new CutoverError(
    'PORT_IN_USE',
    `the API port ${config.apiHost}:${config.apiPort} is already in use by another process; stop that process or choose another port with --api-port`,
    { details: { port: config.apiPort, host: config.apiHost, flag: '--api-port' }, ...(cause ? { cause } : {}) },
  );
}
