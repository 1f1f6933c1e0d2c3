import type { Readable } from 'node:stream';
import type { Color, FlipReason } from '../shared/index.ts';
import type {
  DesiredAnswer,
  DesiredState,
  ArtifactReport,
  ColorStats,
  HealthCheckSeen,
  HealthResult,
  InstanceReport,
  InstanceStats,
  LocalRollback,
  Maintenance,
  SlotReport,
  SlotStartSpec,
  TestResult,
  TestRun,
} from '../protocol/index.ts';

/**
 * The runtime port: where slots run and traffic is switched. Today it is the agent on a host
 * (`src/agent/agent-client.ts`); a Kubernetes runtime (slot = Deployment, flip = Service selector)
 * would implement the same port. Its data types are the agent protocol's (`src/protocol/`, ADR 0019),
 * so the port, the agent's routes and the client cannot drift apart.
 */
export interface Runtime {
  /**
   * Makes the release artifact available where `instance`'s slots start (its machine); `open`
   * streams it from the control plane.
   */
  ensureArtifact(instance: string, digest: string, open: () => Readable): Promise<void>;
  /** Creates or updates the route for an instance's host names. */
  ensureInstance(name: string, hosts: string[]): Promise<void>;
  /** Starts a slot; over several machines, `machines` has each one's port and pid. */
  startSlot(spec: RuntimeSlotSpec): Promise<{ port: number; pid?: number; machines?: Record<string, { port: number; pid?: number }> }>;
  /** Resolves when the slot is healthy, or with why it is not by `timeoutMs`. Never throws for an unhealthy app. */
  waitHealthy(instance: string, color: Color, timeoutMs: number): Promise<HealthResult>;
  /**
   * The atomic switch: new requests go to `color`; in-flight ones on the other colour finish.
   * With `expectVersion`, the runtime refuses (SLOT_NOT_READY, changing nothing) unless that slot
   * runs this version and is healthy at the moment of the switch.
   * `reason` (default `forward`): a `rollback` (manual, automatic, or undoing a weighted step)
   * ends skew protection for the colour left and closes its WebSockets at once (see `FlipReason`).
   */
  flip(instance: string, color: Color, expectVersion?: string, reason?: FlipReason): Promise<FlipOutcome>;
  /**
   * A weighted step: `percent` (1–99) of new clients go to `color`, the rest stay on the active
   * colour; a client keeps the colour it got first (sticky cookie). The active colour does not
   * change, so an agent restart or `flip(instance, activeColor)` puts everyone back on it.
   * `flip(instance, color)` completes the shift. Throws SLOT_NOT_FOUND when `color` has no slot.
   */
  shift(instance: string, color: Color, percent: number): Promise<{ shiftedAt: number }>;
  /**
   * Sets the token that reaches the idle slot before the flip (header `x-cutover-preview` or the
   * `/.well-known/cutover/preview?token=` cookie), or clears it with null. Kept across agent restarts.
   */
  setPreview(instance: string, token: string | null): Promise<void>;
  /** Maintenance on (every request of the instance gets the page with a 503) or off (null). Kept across agent restarts. */
  setMaintenance(instance: string, maintenance: RuntimeMaintenance | null): Promise<void>;
  /** Drains the slot's in-flight requests, then stops its process (SIGTERM, grace, SIGKILL). */
  stopSlot(instance: string, color: Color): Promise<void>;
  /** Forgets an instance: its routes go (in-flight requests drain), then both slots stop. Nothing if unknown. */
  removeInstance(name: string): Promise<void>;
  /** The artifacts the runtime holds, and whether a slot uses each (`cutover prune`). */
  listArtifacts(): Promise<RuntimeArtifact[]>;
  /** Deletes an artifact no slot uses (SLOT_BUSY otherwise); a later deploy fetches it again by digest. */
  deleteArtifact(digest: string): Promise<void>;
  /** What actually runs for an instance, or undefined if the runtime does not know it. */
  describe(instance: string): Promise<RuntimeInstance | undefined>;
  /** The router's per-colour counters of an instance (since each colour was registered), or undefined if unknown. */
  stats(instance: string): Promise<RuntimeInstanceStats | undefined>;
  /**
   * Runs a release's test to its end where the instance's slots run: from the instance's copy of
   * `digest`, as its slot user, in a process group of its own, with exactly the variables of
   * {@link RuntimeTestSpec} on top of the slots' minimal environment. A failing test is a result,
   * not a throw. One test per instance at a time: a new one cancels the one running.
   */
  runTest(spec: RuntimeTestSpec): Promise<RuntimeTestResult>;
  /** Kills the instance's running test, if any (an aborted or recovered deployment). */
  cancelTest(instance: string): Promise<void>;
  /**
   * The rollbacks made on the machine without the server (`cutover local rollback`) that the
   * server has not acknowledged yet, oldest first; empty from a runtime that has none.
   */
  localRollbacks(): Promise<RuntimeLocalRollback[]>;
  /** Forgets the local rollbacks the server has recorded; unknown ids are ignored. */
  ackLocalRollbacks(ids: string[]): Promise<void>;
  /**
   * Sends `document.machine` its desired state numbered `number` (`machine.desired`). The agent
   * keeps the newest it accepted; a lower number, or another machine's document, is refused with
   * the reason: an answer, not a throw.
   */
  applyDesired(number: number, document: RuntimeDesiredState): Promise<RuntimeDesiredAnswer>;
}

/**
 * How a flip went. Over several machines (`createMachineRuntime`, issue 18) it also says when each
 * machine flipped, which did not acknowledge in time (`unconfirmed`) and which were not flipped
 * (`pending`: unreachable, or a rollback one could not take); both converge to the desired state.
 */
export interface FlipOutcome {
  flippedAt: number;
  machines?: Record<string, number>;
  unconfirmed?: string[];
  pending?: string[];
}

/** Where an instance runs: the machines it is placed on, which of them are connected and which not. */
export interface InstanceMachines {
  machines: string[];
  connected: string[];
  unreachable: string[];
}

/**
 * A runtime over several machines: it also says where an instance runs, and gives the same
 * runtime narrowed to some of its machines (a rolling deployment, batch by batch).
 */
export interface MachinesRuntime extends Runtime {
  machinesOf(instance: string): Promise<InstanceMachines>;
  on(machines: readonly string[]): Runtime;
}

/** Whether a runtime spans machines (`createMachineRuntime`); a single runtime (a fake, one agent) does not. */
export const spansMachines = (runtime: Runtime): runtime is MachinesRuntime => typeof (runtime as Partial<MachinesRuntime>).machinesOf === 'function';

/** A flip to the warm slot made on the machine while the server was away (the protocol's `LocalRollback`). */
export type RuntimeLocalRollback = LocalRollback;

/** One machine's desired state (the protocol's `machine.desired` document). */
export type RuntimeDesiredState = DesiredState;
export type RuntimeDesiredAnswer = DesiredAnswer;

/** What a test is told (as `CUTOVER_TEST_KIND`, `APP_VERSION`, `CUTOVER_PREVIEW_TOKEN`) and where it runs from (the protocol's `instance.test`). */
export type RuntimeTestSpec = TestRun;
/** How a test ended: exit code, timings, the output kept (masked) and its SHA-256; over several machines, the one it ran on. */
export type RuntimeTestResult = TestResult & { machine?: string };

/** The slot a `startSlot` asks for (the protocol's `slot.start` request). */
export type RuntimeSlotSpec = SlotStartSpec;
export type RuntimeMaintenance = Maintenance;
export type RuntimeArtifact = ArtifactReport;
export type RuntimeSlot = SlotReport;
export type RuntimeInstance = InstanceReport;
export type RuntimeColorStats = ColorStats;
export type RuntimeInstanceStats = InstanceStats;
export type { HealthCheckSeen, HealthResult };
