import { join } from 'node:path';
import { CutoverError, COLORS } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type { Router } from '../router/index.ts';
import type { Supervisor, SlotSpec, SlotUser, UidRange } from '../supervisor/index.ts';
import { createArtifactStore } from '../releases/index.ts';
import type { UnpackLimits } from '../releases/index.ts';
import type { InstanceReport } from '../protocol/index.ts';
import type { AgentState, PersistedSlot } from './agent-state.ts';
import { STATE_VERSION, createStateFile } from './agent-state.ts';
import { agentStateBase } from './agent-files.ts';
import { createStateSaver } from './state-saver.ts';
import type { Isolation } from './isolation.ts';
import { createSlotDirs } from './slot-dirs.ts';
import { createSlotIdentity } from './slot-identity.ts';
import { createTestRunner } from './test-runner.ts';
import { createAgentArtifacts } from './agent-artifacts.ts';
import { createAgentTraffic } from './agent-traffic.ts';
import { createAgentRestore } from './agent-restore.ts';
import { describeInstances } from './describe-instances.ts';
import { createAgentSlots } from './agent-slots.ts';
import { createLocalRollbacks } from './local-rollback.ts';
import { createAgentDesired, joinedName } from './agent-desired.ts';
import { expectationOf } from './agent-readiness.ts';
import { createAgentEdgeTls } from './agent-edge-tls.ts';

export interface AgentCoreOptions {
  dataDir: string;
  router: Router;
  supervisor: Supervisor;
  /** The supervisor's `logDir`, where slot pid files are found for adoption. */
  logDir: string;
  drainTimeoutMs: number;
  /** Entry, size and heap budget of unpacking an artifact (settings unpackMax*); default `DEFAULT_UNPACK_LIMITS`. */
  unpackLimits?: UnpackLimits;
  /** How often a state write that failed for a full disk is tried again (default 1 s). */
  saveRetryMs?: number;
  /** `uid`: the agent is root and starts each instance's slots as their own uid (see `slot-dirs.ts`). */
  isolation: Isolation;
  /** Uids handed out to instances (isolation `uid`, without `slotUser`). */
  slotUidRange: UidRange;
  /** With isolation `uid`: every slot runs as this user instead of a uid of its own. */
  slotUser?: SlotUser;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** The router's port once it listens: a release's tests reach the instance through it. */
  routerPort?: () => number | undefined;
  /** The watched certificate pair of the TLS listener (`tlsCertFile`, `tlsKeyFile`), if any. */
  tlsFiles?: { cert: string; key: string };
  /** The machine name it joined as; default: read from `agent/private/machine.json` (undefined before a join). */
  machineName?: () => Promise<string | undefined>;
}

/**
 * The agent's operations, independent of how they are called (the agent protocol's messages,
 * `protocol-handlers.ts`; over the HTTP control API today). It keeps
 * the router and the supervisor in step and persists every change before acting on traffic.
 */
/** Creates or updates an instance's route and saves it; a save that fails puts the router back as the files say. */
async function routeInstance(router: AgentCoreOptions['router'], state: AgentState, save: () => Promise<void>, name: string, hosts: string[]): Promise<void> {
  router.setInstance(name, hosts); // throws HOST_IN_USE before anything is saved
  const existing = state.instances[name];
  state.instances[name] = existing ? { ...existing, hosts } : { hosts, active: null, slots: {} };
  try {
    await save();
  } catch (error) {
    // Not saved (a full disk): the router goes back to what the files say.
    if (existing) {
      state.instances[name] = existing;
      router.setInstance(name, existing.hosts);
    } else {
      delete state.instances[name];
      await router.removeInstance(name);
    }
    throw error;
  }
}

/** Forgets an instance: saved first, then its routes go (in-flight requests drain) and both slots stop. */
async function forgetInstance(
  parts: { router: Router; supervisor: Supervisor; identity: ReturnType<typeof createSlotIdentity>; save: () => Promise<void> },
  state: AgentState,
  name: string,
): Promise<void> {
  const instance = state.instances[name];
  if (!instance) return;
  delete state.instances[name];
  await parts.save();
  await parts.router.removeInstance(name);
  await Promise.all(COLORS.map((c) => parts.supervisor.stop(name, c)));
  await parts.identity.forget(name, instance);
}

/** The TLS listener's certificates: the server's (kept sealed beside the state files) and the watched pair. */
const edgeTlsOf = (o: AgentCoreOptions) =>
  createAgentEdgeTls({ router: o.router, stateBase: agentStateBase(o.dataDir), ...(o.tlsFiles ? { files: o.tlsFiles } : {}), log: o.log });

export function createAgentCore(options: AgentCoreOptions) {
  const { router, supervisor, log } = options;
  const artifacts = createArtifactStore(join(options.dataDir, 'artifacts'));
  const stateFile = createStateFile(agentStateBase(options.dataDir));
  let state: AgentState = { version: STATE_VERSION, instances: {} };
  const saver = createStateSaver({ file: stateFile, current: () => state, dataDir: options.dataDir, retryMs: options.saveRetryMs ?? 1000, log });
  const save = saver.save;
  const dirs = createSlotDirs(options.dataDir, options.isolation, options.unpackLimits);
  const identity = createSlotIdentity({
    dirs,
    isolation: options.isolation,
    slotUidRange: options.slotUidRange,
    ...(options.slotUser ? { slotUser: options.slotUser } : {}),
    state: () => state,
    save,
    artifactPath: (digest) => artifacts.path(digest),
    log,
  });

  const tests = createTestRunner({
    supervisor,
    identity,
    state: () => state,
    hasArtifact: (digest) => artifacts.has(digest),
    routerPort: () => options.routerPort?.(),
    log,
  });
  const store = createAgentArtifacts({ artifacts, dirs, state: () => state, log });

  function instanceOrThrow(name: string) {
    const instance = state.instances[name];
    if (!instance) {
      throw new CutoverError('INSTANCE_NOT_FOUND', `the agent does not know instance "${name}"`, { details: { instance: name } });
    }
    return instance;
  }

  const specOf = (name: string, color: Color, slot: PersistedSlot): SlotSpec => ({
    instance: name,
    color,
    version: slot.version,
    ...identity.specFields(name, slot),
    command: slot.start,
    env: slot.env,
    health: slot.health,
    stopTimeoutMs: slot.stopTimeoutMs,
    ...(slot.drain ? { drain: slot.drain } : {}),
  });
  const slots = createAgentSlots({
    router,
    supervisor,
    identity,
    artifacts: store,
    state: () => state,
    instanceOrThrow,
    specOf,
    save,
    drainTimeoutMs: options.drainTimeoutMs,
  });
  const { launch } = slots;
  const traffic = createAgentTraffic({
    router,
    supervisor,
    state: () => state,
    instanceOrThrow,
    save,
    retryInBackground: () => saver.retryInBackground(),
    dataDir: options.dataDir,
    log,
  });
  /** Gives the router's ready endpoint what the state now expects: after a load, a flip, an accepted document. */
  const publishExpectation = () => router.setExpectation(expectationOf(state));
  const flip: typeof traffic.flip = async (...args) => {
    const flipped = await traffic.flip(...args);
    publishExpectation();
    return flipped;
  };
  const local = createLocalRollbacks({ state: () => state, slotState: (name, color) => supervisor.get(name, color)?.state, flip, save, log });
  const restart = createAgentRestore({
    router,
    supervisor,
    stateFile,
    identity,
    state: () => state,
    setState: (loaded) => void (state = loaded),
    specOf,
    launch,
    logDir: options.logDir,
    log,
  });

  const edgeTls = edgeTlsOf(options);
  const desired = createAgentDesired({ state: () => state, save, machineName: options.machineName ?? (() => joinedName(options.dataDir)), log });
  const applyDesired: typeof desired.apply = async (number, document) => {
    const answer = await desired.apply(number, document);
    if (answer.accepted) publishExpectation();
    return answer;
  };

  return {
    /** The agent's data directory (what a `DISK_FULL` error names). */
    dataDir: options.dataDir,
    hasArtifact: store.hasArtifact,
    listArtifacts: store.listArtifacts,
    deleteArtifact: store.deleteArtifact,
    putArtifact: store.putArtifact,
    flip,
    /** `cutover local rollback`: the flip to the warm slot without the server, and its record (see `local-rollback.ts`). */
    localRollback: local.rollback,
    localRollbacks: local.pending,
    acknowledgeLocalRollbacks: local.acknowledge,
    shift: traffic.shift,
    setPreview: traffic.setPreview,
    setMaintenance: traffic.setMaintenance,
    async load(loadOptions?: { resetState?: boolean }): Promise<void> {
      await restart.load(loadOptions);
      await edgeTls.load();
      publishExpectation();
    },
    stopOrphans: restart.stopOrphans,
    adoptRunning: restart.adoptRunning,
    restore: restart.restore,

    ensureInstance: (name: string, hosts: string[]) => routeInstance(router, state, save, name, hosts),

    removeInstance: (name: string) => forgetInstance({ router, supervisor, identity, save }, state, name),

    edgeTls, // the TLS listener's certificates: `tls.put`, and what it serves (no keys)

    /** `machine.desired`: keeps the newest document for this machine (see `createAgentDesired`). */
    applyDesired,

    startSlot: slots.startSlot,
    waitHealthy: slots.waitHealthy,
    stopSlot: slots.stopSlot,

    /** Runs a release's test (see `createTestRunner`). */
    runTest: tests.run,
    cancelTest: tests.cancel,

    /** The router's counters of one instance. */
    stats(name: string) {
      return router.stats().find((i) => i.instance === name);
    },
    metricsText(): string {
      return router.metricsText() + edgeTls.metricsText();
    },

    describe: (name?: string): InstanceReport[] => describeInstances({ router, supervisor, identity, state }, name),

    logLines(name: string, color: Color | undefined, lines: number) {
      const c = color ?? state.instances[name]?.active ?? 'blue';
      return { color: c, lines: supervisor.tail(name, c, lines) };
    },

    follow(name: string, color: Color, onLine: (line: string) => void) {
      return supervisor.follow(name, color, onLine);
    },

    /** Closes the state files (after the router and the slots have stopped). */
    close(): Promise<void> {
      tests.cancelAll();
      edgeTls.close();
      saver.stop();
      return stateFile.close();
    },

    isolation: options.isolation,

  };
}

export type AgentCore = ReturnType<typeof createAgentCore>;

